package client

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
)

// Agent object API: the blobs of account protection (chunks and manifests)
// that agents keep in the server's object store. Keys are slash-separated
// paths such as "protections/7/chunks/ab12…"; the server checks that the
// agent's member may read (or write) each one.

// MaxObjectSize is the largest object PutObject may store (the server's
// limit).
const MaxObjectSize = 64 << 20

// objectTimeout bounds a transfer of n bytes: the client's usual timeout
// plus time for the bytes at a slow 256 KiB/s, so that a large manifest on
// a slow link is not cut off while a stalled small chunk still fails soon.
func objectTimeout(n int) time.Duration {
	return 30*time.Second + time.Duration(n/(256<<10))*time.Second
}

// objectPath is the escaped request path of key.
func objectPath(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = esc(s)
	}
	return v1 + "/agent/objects/" + strings.Join(segs, "/")
}

// PutObject stores data under key, replacing what was there.
func (c *Client) PutObject(ctx context.Context, key string, data []byte) error {
	if len(data) > MaxObjectSize {
		return fmt.Errorf("put object %s: %d bytes is more than the %d the server accepts", key, len(data), MaxObjectSize)
	}
	resp, cancel, err := c.send(ctx, http.MethodPut, objectPath(key), nil,
		&rawBody{data: data, contentType: "application/octet-stream"}, "application/json", objectTimeout(len(data)))
	if err != nil {
		return fmt.Errorf("put object %s: %w", key, err)
	}
	defer cancel()
	closeBody(resp)
	return nil
}

// GetObject returns the object stored under key. A missing object is an
// *Error with Status 404.
func (c *Client) GetObject(ctx context.Context, key string) ([]byte, error) {
	resp, cancel, err := c.send(ctx, http.MethodGet, objectPath(key), nil, nil, "application/octet-stream", objectTimeout(MaxObjectSize))
	if err != nil {
		return nil, fmt.Errorf("get object %s: %w", key, err)
	}
	defer cancel()
	defer closeBody(resp)
	if resp.ContentLength > MaxObjectSize {
		return nil, fmt.Errorf("get object %s: the server announced %d bytes, more than %d", key, resp.ContentLength, MaxObjectSize)
	}
	var b []byte
	if resp.ContentLength >= 0 {
		b = make([]byte, resp.ContentLength)
		_, err = io.ReadFull(resp.Body, b)
	} else {
		b, err = io.ReadAll(io.LimitReader(resp.Body, MaxObjectSize+1))
		if err == nil && len(b) > MaxObjectSize {
			err = fmt.Errorf("answer longer than %d bytes", MaxObjectSize)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("get object %s: read answer: %w", key, err)
	}
	return b, nil
}

// DeleteObject removes the object stored under key; a missing object is
// not an error.
func (c *Client) DeleteObject(ctx context.Context, key string) error {
	if err := c.Do(ctx, http.MethodDelete, objectPath(key), nil, nil, nil); err != nil {
		return fmt.Errorf("delete object %s: %w", key, err)
	}
	return nil
}

// ListObjects calls fn for every object whose key starts with prefix, in
// key order, fetching further pages as needed. An error from fn stops the
// listing and is returned unchanged.
func (c *Client) ListObjects(ctx context.Context, prefix string, fn func(api.ObjectInfo) error) error {
	after := ""
	for {
		q := url.Values{"prefix": {prefix}}
		if after != "" {
			q.Set("after", after)
		}
		var page api.List[api.ObjectInfo]
		if err := c.Do(ctx, http.MethodGet, v1+"/agent/objects", q, nil, &page); err != nil {
			return fmt.Errorf("list objects %s: %w", prefix, err)
		}
		for _, o := range page.Items {
			if err := fn(o); err != nil {
				return err
			}
		}
		if page.Next == "" || len(page.Items) == 0 {
			return nil
		}
		if page.Next <= after {
			return fmt.Errorf("list objects %s: the server's cursor %q does not move past %q", prefix, page.Next, after)
		}
		after = page.Next
	}
}

// ChunkKey fetches the pool chunk key of a protection this agent's member
// is the source or standby of.
func (c *Client) ChunkKey(ctx context.Context, protection int64) ([32]byte, error) {
	var out api.ChunkKey
	var key [32]byte
	if err := c.Do(ctx, http.MethodGet, v1+"/agent/protections/"+strconv.FormatInt(protection, 10)+"/key", nil, nil, &out); err != nil {
		return key, fmt.Errorf("chunk key of protection %d: %w", protection, err)
	}
	b, err := base64.StdEncoding.DecodeString(out.Key)
	if err != nil || len(b) != len(key) {
		return key, fmt.Errorf("chunk key of protection %d: the server answered %d bytes of base64 (%v), want 32", protection, len(b), err)
	}
	copy(key[:], b)
	return key, nil
}

// PutObjects stores several objects in one request (see api.Object). The
// batch must respect api.MaxBatchObjects and api.MaxBatchBytes.
func (c *Client) PutObjects(ctx context.Context, objs []api.Object) error {
	if len(objs) > api.MaxBatchObjects {
		return fmt.Errorf("put %d objects: at most %d per batch", len(objs), api.MaxBatchObjects)
	}
	size := 0
	for _, o := range objs {
		size += 6 + len(o.Key) + len(o.Data)
	}
	if size > api.MaxBatchBytes {
		return fmt.Errorf("put %d objects: %d bytes is more than the %d a batch may hold", len(objs), size, api.MaxBatchBytes)
	}
	body := make([]byte, 0, size)
	for _, o := range objs {
		body = api.AppendObjectFrame(body, o)
	}
	resp, cancel, err := c.send(ctx, http.MethodPost, v1+"/agent/objects-batch", nil,
		&rawBody{data: body, contentType: "application/octet-stream"}, "application/json", objectTimeout(len(body)))
	if err != nil {
		return fmt.Errorf("put %d objects: %w", len(objs), err)
	}
	defer cancel()
	closeBody(resp)
	return nil
}
