package apiserver

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/objstore"
)

// The agent object API: agents keep the chunks and manifests of account
// protection in the server's object store through these routes. Bodies are
// raw bytes (application/octet-stream); Deps.Protections decides which keys
// an agent may read and write.

// Object API limits.
const (
	maxObject     = 64 << 20 // bytes of one object
	maxObjectList = 10000    // objects per list page (also the default)
)

// octets stands for a raw application/octet-stream body in the route
// table, so that the OpenAPI document describes it as such.
type octets struct{}

// (Server.protections, shared with the admin routes, is in protection_routes.go.)

// objectKey returns the validated {key...} of the request path.
func objectKey(r *http.Request) (string, error) {
	key := r.PathValue("key")
	if err := objstore.ValidateKey(key); err != nil {
		return "", apperr.Wrap(apperr.Invalid, err, "bad object key in the request path")
	}
	return key, nil
}

// objectError classifies an object store error about key.
func objectError(err error, key string) error {
	switch {
	case errors.Is(err, objstore.ErrNotExist):
		return apperr.Wrap(apperr.NotFound, err, "no object %q", key)
	case errors.Is(err, objstore.ErrInvalidKey):
		return apperr.Wrap(apperr.Invalid, err, "object %q", key)
	case errors.Is(err, objstore.ErrSizeMismatch):
		return apperr.Wrap(apperr.Invalid, err, "object %q: the body does not match its Content-Length", key)
	}
	return fmt.Errorf("object %q: %w", key, err)
}

// checkOctets checks the headers of a raw upload (what: "object" or
// "batch"): application/octet-stream if a type is given, a Content-Length
// (no chunked uploads) of at most limit bytes.
func checkOctets(r *http.Request, what string, limit int64) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/octet-stream" {
			return apperr.New(apperr.Invalid, "content type %q: send the %s's bytes as application/octet-stream", ct, what)
		}
	}
	// The server reports ContentLength 0 both for "Content-Length: 0" and
	// for no header at all; -1 means chunked.
	if r.ContentLength < 0 || (r.ContentLength == 0 && r.Header.Get("Content-Length") == "") {
		return apperr.New(apperr.LengthRequired, "send the %s's size in Content-Length (chunked uploads are not accepted)", what)
	}
	if r.ContentLength > limit {
		return apperr.New(apperr.TooLarge, "%s of %d bytes is larger than the %d bytes allowed", what, r.ContentLength, limit)
	}
	return nil
}

func (s *Server) putObject(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := s.protections()
	if err != nil {
		return nil, err
	}
	key, err := objectKey(r)
	if err != nil {
		return nil, err
	}
	if err := checkOctets(r, "object", maxObject); err != nil {
		return nil, err
	}
	if err := p.AuthorizeObject(r.Context(), agentOf(r), key, true); err != nil {
		return nil, err
	}
	body := http.MaxBytesReader(w, r.Body, maxObject)
	if err := p.Objects().Put(r.Context(), key, body, r.ContentLength); err != nil {
		return nil, objectError(err, key)
	}
	return nil, nil
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := s.protections()
	if err != nil {
		return nil, err
	}
	key, err := objectKey(r)
	if err != nil {
		return nil, err
	}
	if err := p.AuthorizeObject(r.Context(), agentOf(r), key, false); err != nil {
		return nil, err
	}
	st := p.Objects()
	info, err := st.Stat(r.Context(), key)
	if err != nil {
		return nil, objectError(err, key)
	}
	rc, err := st.Get(r.Context(), key)
	if err != nil {
		return nil, objectError(err, key)
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
	w.WriteHeader(http.StatusOK)
	n, err := io.CopyN(w, rc, info.Size)
	if err == nil {
		// The object must not have grown since Stat either.
		var one [1]byte
		if m, _ := rc.Read(one[:]); m > 0 {
			err = errors.New("object changed while it was sent")
		}
	}
	if err != nil {
		// The status is out: all that is left is to cut the connection,
		// so that the client sees a short body rather than wrong bytes.
		if r.Context().Err() == nil {
			s.log.Warn("object answer cut short", "key", key, "sent", n, "size", info.Size, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
	return written{}, nil
}

func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := s.protections()
	if err != nil {
		return nil, err
	}
	key, err := objectKey(r)
	if err != nil {
		return nil, err
	}
	if err := p.AuthorizeObject(r.Context(), agentOf(r), key, true); err != nil {
		return nil, err
	}
	if err := p.Objects().Delete(r.Context(), key); err != nil {
		return nil, objectError(err, key)
	}
	return nil, nil
}

// errPageFull stops a listing once a page is full.
var errPageFull = errors.New("page full")

// listObjects answers the objects under ?prefix= in key order, at most
// ?limit= (default and maximum 10000) after the key ?after=. Next is set
// when more may follow.
func (s *Server) listObjects(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := s.protections()
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	prefix, after := q.Get("prefix"), q.Get("after")
	if prefix == "" {
		return nil, apperr.New(apperr.Invalid, "query parameter prefix is required (the start of the keys to list, such as protections/7/chunks/)")
	}
	if err := objstore.ValidateKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return nil, apperr.Wrap(apperr.Invalid, err, "query parameter prefix")
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		return nil, err
	}
	switch {
	case limit == 0:
		limit = maxObjectList
	case limit > maxObjectList:
		return nil, apperr.New(apperr.Invalid, "query parameter limit=%d: at most %d objects per page", limit, maxObjectList)
	}
	ctx, a := r.Context(), agentOf(r)
	if err := p.AuthorizeObject(ctx, a, prefix, false); err != nil {
		return nil, err
	}
	// A prefix need not end at a "/" ("protections/1" also matches
	// "protections/12/…"), so every directory listed is authorized too;
	// objects the agent may not read are left out.
	allowed := map[string]bool{}
	out := api.List[api.ObjectInfo]{Items: []api.ObjectInfo{}}
	err = p.Objects().List(ctx, prefix, func(o objstore.Info) error {
		if o.Key <= after {
			return nil
		}
		dir := path.Dir(o.Key)
		ok, seen := allowed[dir]
		if !seen {
			err := p.AuthorizeObject(ctx, a, o.Key, false)
			if err != nil && !errors.Is(err, apperr.Forbidden) && !errors.Is(err, apperr.NotFound) {
				return err
			}
			ok = err == nil
			allowed[dir] = ok
		}
		if !ok {
			return nil
		}
		if int64(len(out.Items)) == limit {
			out.Next = out.Items[len(out.Items)-1].Key
			return errPageFull
		}
		out.Items = append(out.Items, api.ObjectInfo{Key: o.Key, Size: o.Size})
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return nil, fmt.Errorf("list objects %q: %w", prefix, err)
	}
	return out, nil
}

func (s *Server) chunkKey(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := s.protections()
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	key, err := p.ChunkKey(r.Context(), agentOf(r), id)
	if err != nil {
		return nil, err
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("chunk key of protection %d: got %d bytes, want 32", id, len(key))
	}
	return api.ChunkKey{Key: base64.StdEncoding.EncodeToString(key)}, nil
}

// batchWorkers is how many objects of a batch are stored at once: the
// store's durability waits overlap.
const batchWorkers = 8

func (s *Server) putObjects(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := s.protections()
	if err != nil {
		return nil, err
	}
	if err := checkOctets(r, "batch", api.MaxBatchBytes); err != nil {
		return nil, err
	}
	body := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(http.MaxBytesReader(w, r.Body, api.MaxBatchBytes), body); err != nil {
		return nil, apperr.Wrap(apperr.Invalid, err, "read the batch")
	}
	var objs []api.Object
	for rest := body; len(rest) > 0; {
		o, next, ok := api.ReadObjectFrame(rest)
		if !ok {
			return nil, apperr.New(apperr.Invalid, "batch frame %d is cut short or malformed", len(objs)+1)
		}
		if len(objs) == api.MaxBatchObjects {
			return nil, apperr.New(apperr.TooLarge, "a batch holds at most %d objects", api.MaxBatchObjects)
		}
		if err := objstore.ValidateKey(o.Key); err != nil {
			return nil, apperr.Wrap(apperr.Invalid, err, "batch object %d", len(objs)+1)
		}
		if err := p.AuthorizeObject(r.Context(), agentOf(r), o.Key, true); err != nil {
			return nil, err
		}
		objs = append(objs, o)
		rest = next
	}
	st := p.Objects()
	if bp, ok := st.(objstore.BatchPutter); ok {
		batch := make([]objstore.Object, len(objs))
		for i, o := range objs {
			batch[i] = objstore.Object{Key: o.Key, Data: o.Data}
		}
		if err := bp.PutBatch(r.Context(), batch); err != nil {
			return nil, objectError(err, "of the batch")
		}
		return nil, nil
	}
	work := make(chan api.Object)
	errs := make(chan error, batchWorkers)
	var wg sync.WaitGroup
	for range min(batchWorkers, len(objs)) {
		wg.Go(func() {
			var first error
			for o := range work {
				if first != nil {
					continue
				}
				if err := st.Put(r.Context(), o.Key, bytes.NewReader(o.Data), int64(len(o.Data))); err != nil {
					first = objectError(err, o.Key)
				}
			}
			errs <- first
		})
	}
	for _, o := range objs {
		work <- o
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return nil, nil
}
