package apiserver

import (
	"net/http"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

var errNoZones = apperr.New(apperr.Unavailable, "zones are not available on this server")

type zoneText struct {
	Text string `json:"text"`
}

func (s *Server) zones() (Zones, error) {
	if s.d.Zones == nil {
		return nil, errNoZones
	}
	return s.d.Zones, nil
}

func (s *Server) listZones(w http.ResponseWriter, r *http.Request) (any, error) {
	z, err := s.zones()
	if err != nil {
		return nil, err
	}
	zs, err := z.List(r.Context())
	return api.List[api.Zone]{Items: nonNil(zs)}, err
}

func (s *Server) createZone(w http.ResponseWriter, r *http.Request) (any, error) {
	z, err := s.zones()
	if err != nil {
		return nil, err
	}
	var in api.ZoneCreate
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return z.Create(r.Context(), in)
}

func (s *Server) getZone(w http.ResponseWriter, r *http.Request) (any, error) {
	z, err := s.zones()
	if err != nil {
		return nil, err
	}
	return z.Get(r.Context(), r.PathValue("zone"))
}

func (s *Server) deleteZone(w http.ResponseWriter, r *http.Request) (any, error) {
	z, err := s.zones()
	if err != nil {
		return nil, err
	}
	return nil, z.Delete(r.Context(), r.PathValue("zone"))
}

func (s *Server) listRecords(w http.ResponseWriter, r *http.Request) (any, error) {
	z, err := s.zones()
	if err != nil {
		return nil, err
	}
	rs, err := z.Records(r.Context(), r.PathValue("zone"))
	return api.List[api.Record]{Items: nonNil(rs)}, err
}

func (s *Server) addRecord(w http.ResponseWriter, r *http.Request) (any, error) {
	z, err := s.zones()
	if err != nil {
		return nil, err
	}
	var in api.RecordCreate
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return z.AddRecord(r.Context(), r.PathValue("zone"), in)
}

func (s *Server) deleteRecord(w http.ResponseWriter, r *http.Request) (any, error) {
	z, err := s.zones()
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return nil, z.DeleteRecord(r.Context(), r.PathValue("zone"), id)
}

func (s *Server) importZone(w http.ResponseWriter, r *http.Request) (any, error) {
	z, err := s.zones()
	if err != nil {
		return nil, err
	}
	var in api.ZoneImport
	if err := decode(w, r, maxZoneBody, &in); err != nil {
		return nil, err
	}
	return z.Import(r.Context(), r.PathValue("zone"), in)
}

func (s *Server) exportZone(w http.ResponseWriter, r *http.Request) (any, error) {
	z, err := s.zones()
	if err != nil {
		return nil, err
	}
	text, err := z.Export(r.Context(), r.PathValue("zone"))
	return zoneText{Text: text}, err
}
