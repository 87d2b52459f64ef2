package api

import "time"

// MaintenanceStart is the body of POST /api/v1/pools/{pool}/maintenance:
// a one-off window from now for For, or, with Cron (five fields, UTC), a
// window of For at every activation.
type MaintenanceStart struct {
	Member        string   `json:"member,omitempty"` // "" the whole pool
	For           Duration `json:"for"`
	Cron          string   `json:"cron,omitempty"`
	Reason        string   `json:"reason,omitempty"`
	PauseFailover bool     `json:"pause_failover,omitempty"`
}

// MaintenanceWindow is a maintenance window and its state now.
type MaintenanceWindow struct {
	ID            int64      `json:"id"`
	Pool          string     `json:"pool"`
	Member        string     `json:"member,omitempty"`
	Reason        string     `json:"reason,omitempty"`
	PauseFailover bool       `json:"pause_failover"`
	StartsAt      time.Time  `json:"starts_at"`
	EndsAt        *time.Time `json:"ends_at,omitempty"` // one-off windows
	Cron          string     `json:"cron,omitempty"`    // scheduled windows
	For           Duration   `json:"for"`
	Active        bool       `json:"active"`
	Until         *time.Time `json:"until,omitempty"`   // while active: when it ends
	NextAt        *time.Time `json:"next_at,omitempty"` // scheduled: the next activation after now
	CreatedAt     time.Time  `json:"created_at"`
}

// MaintenanceStopped answers DELETE /api/v1/pools/{pool}/maintenance.
type MaintenanceStopped struct {
	Pool    string `json:"pool"`
	Member  string `json:"member,omitempty"`
	Stopped int    `json:"stopped"` // one-off windows ended and scheduled ones removed
}
