package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"
)

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("30s", "1m30s"). It also accepts a number of seconds.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a string such as "30s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads "30s" or 30 (seconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			// A type error lets encoding/json name the field.
			return &json.UnmarshalTypeError{Value: fmt.Sprintf("%q (want a duration like 30s)", s), Type: reflect.TypeOf(*d)}
		}
		*d = Duration(v)
		return nil
	}
	var n float64
	if err := json.Unmarshal(b, &n); err != nil {
		return &json.UnmarshalTypeError{Value: string(b) + " (want a duration like \"30s\" or seconds)", Type: reflect.TypeOf(*d)}
	}
	*d = Duration(n * float64(time.Second))
	return nil
}
