package apiserver

import (
	"net/http"

	"github.com/poolctl/poolctl/api"
)

// route is one API operation. The table below is the only place routes are
// declared; the OpenAPI document is generated from it.
type route struct {
	method, path string
	auth         authKind
	summary      string
	in, out      any // example values of the request and answer types (for OpenAPI)
	status       int // success status; 200 when 0
	h            func(w http.ResponseWriter, r *http.Request) (any, error)
}

func (rt route) okStatus() int {
	if rt.status == 0 {
		return http.StatusOK
	}
	return rt.status
}

func (s *Server) routeTable() []route {
	const v = "/api/v1"
	return []route{
		{"GET", v + "/health", authNone, "Server and database health", nil, healthReply{}, 0, s.health},
		{"GET", v + "/openapi.json", authNone, "This API's OpenAPI 3.1 document", nil, nil, 0, s.openapi},
		{"GET", "/healthz", authNone, "Liveness: 200 ok while the process serves HTTP", nil, plainText{}, 0, s.healthz},
		{"GET", "/readyz", authNone, "Readiness: the store answers a ping and the nameserver a query (503 naming what failed)", nil, plainText{}, 0, s.readyz},
		{"GET", "/metrics", authAdmin, "Metrics in the Prometheus text exposition format (admin token)", nil, plainText{}, 0, s.metrics},

		{"GET", v + "/pools", authAdmin, "List pools", nil, api.List[api.Pool]{}, 0, s.listPools},
		{"POST", v + "/pools", authAdmin, "Create a pool", api.PoolCreate{}, api.Pool{}, 201, s.createPool},
		{"GET", v + "/pools/{pool}", authAdmin, "Show a pool", nil, api.Pool{}, 0, s.getPool},
		{"PATCH", v + "/pools/{pool}", authAdmin, "Change a pool's settings", api.PoolUpdate{}, api.Pool{}, 0, s.updatePool},
		{"DELETE", v + "/pools/{pool}", authAdmin, "Delete a pool (?force=true when it has members)", nil, api.PoolDeleteResult{}, 0, s.deletePool},
		{"POST", v + "/pools/{pool}/banner/ack", authAdmin, "Acknowledge a pool's failover banner", nil, api.Pool{}, 0, s.ackBanner},

		{"GET", v + "/pools/{pool}/members", authAdmin, "List a pool's members", nil, api.List[api.Member]{}, 0, s.listMembers},
		{"POST", v + "/pools/{pool}/members", authAdmin, "Add a member; answers its one-time enrolment secret", api.MemberCreate{}, api.MemberAdded{}, 201, s.addMember},
		{"GET", v + "/pools/{pool}/members/{member}", authAdmin, "Show a member", nil, api.Member{}, 0, s.getMember},
		{"PATCH", v + "/pools/{pool}/members/{member}", authAdmin, "Change a member", api.MemberUpdate{}, api.Member{}, 0, s.updateMember},
		{"DELETE", v + "/pools/{pool}/members/{member}", authAdmin, "Remove a member (its agent is told to stop; ?force=true when it is the active member or in a protection)", nil, nil, 204, s.removeMember},
		{"POST", v + "/pools/{pool}/members/{member}/enrollment-secret", authAdmin, "Replace a member's enrolment secret", api.SecretCreate{}, api.MemberAdded{}, 201, s.newSecret},
		{"POST", v + "/pools/{pool}/members/{member}/rotate-credential", authAdmin, "Rotate a member's agent credential at its next heartbeat", nil, api.CredentialRotation{}, 0, s.rotateCredential},
		{"POST", v + "/pools/{pool}/rotate-credentials", authAdmin, "Rotate the agent credentials of every enrolled member of a pool", nil, api.CredentialRotation{}, 0, s.rotateCredential},
		{"POST", v + "/pools/{pool}/members/{member}/revoke-credential", authAdmin, "Revoke a member's agent credential at once (its agent must enrol again)", api.CredentialRevoke{}, nil, 204, s.revokeCredential},
		{"POST", v + "/pools/{pool}/members/{member}/update-agent", authAdmin, "Update a member's agent to the binary this server offers (signed; rolled back unless it heartbeats)", api.AgentUpdate{}, api.Job{}, 201, s.updateAgent},
		{"POST", v + "/pools/{pool}/agent-rollout", authAdmin, "Update a pool's agents one member at a time, the active member last", api.AgentUpdate{}, api.Rollout{}, 201, s.startRollout},
		{"GET", v + "/pools/{pool}/agent-rollout", authAdmin, "A pool's latest agent rollout", nil, api.Rollout{}, 0, s.rollout},
		{"POST", v + "/pools/{pool}/agent-rollout/cancel", authAdmin, "Stop a pool's agent rollout after the member being updated", nil, api.Rollout{}, 0, s.cancelRollout},
		{"POST", v + "/pools/{pool}/members/{member}/make-active", authAdmin, "Point the pool's failover record at this member", api.MakeActive{}, api.Pool{}, 0, s.makeActive},
		{"GET", v + "/pools/{pool}/members/{member}/jobs", authAdmin, "List a member's jobs", nil, api.List[api.Job]{}, 0, s.listJobs},
		{"POST", v + "/pools/{pool}/members/{member}/jobs", authAdmin, "Queue a job for a member's agent", api.JobCreate{}, api.Job{}, 201, s.createJob},

		{"GET", v + "/jobs/{id}", authAdmin, "Show a job", nil, api.Job{}, 0, s.getJob},
		{"POST", v + "/jobs/{id}/cancel", authAdmin, "Cancel a job", nil, api.Job{}, 0, s.cancelJob},
		{"GET", v + "/jobs/{id}/log", authAdmin, "Read a job's log (?after=SEQ&wait=DURATION)", nil, api.List[api.JobLogLine]{}, 0, s.jobLog},

		{"GET", v + "/events", authAdmin, "List events (?pool&member&kind&since&after&limit&wait)", nil, api.List[api.Event]{}, 0, s.listEvents},

		{"GET", v + "/pools/{pool}/members/{member}/accounts", authAdmin, "List the hosting accounts on a member (?refresh=true asks its agent now)", nil, api.AccountList{}, 0, s.listAccounts},
		{"POST", v + "/pools/{pool}/accounts/{account}/cut-dns", authAdmin, "Point an account's DNS records at another member (dry_run lists the changes only)", api.DNSCut{}, api.DNSCutResult{}, 0, s.cutDNS},
		{"GET", v + "/protections", authAdmin, "List account protections (?pool=)", nil, api.List[api.Protection]{}, 0, s.listProtections},
		{"POST", v + "/pools/{pool}/protections", authAdmin, "Protect an account: replicate it to a standby member on a schedule", api.ProtectionCreate{}, api.Protection{}, 201, s.createProtection},
		{"GET", v + "/pools/{pool}/protections/{account}", authAdmin, "Show an account's protection", nil, api.Protection{}, 0, s.getProtection},
		{"PATCH", v + "/pools/{pool}/protections/{account}", authAdmin, "Change a protection's schedule, records, TTL or guard thresholds", api.ProtectionUpdate{}, api.Protection{}, 0, s.updateProtection},
		{"DELETE", v + "/pools/{pool}/protections/{account}", authAdmin, "Stop protecting an account (the standby's copy is left in place)", nil, nil, 204, s.deleteProtection},
		{"POST", v + "/pools/{pool}/protections/{account}/pause", authAdmin, "Pause a protection's scheduled runs", nil, api.Protection{}, 0, s.pauseProtection},
		{"POST", v + "/pools/{pool}/protections/{account}/resume", authAdmin, "Resume a paused protection", nil, api.Protection{}, 0, s.resumeProtection},
		{"POST", v + "/pools/{pool}/protections/{account}/run", authAdmin, "Start a replication run now (409 while one is in progress, or while the account's DNS points away from its source)", nil, api.Run{}, 202, s.runProtection},
		{"POST", v + "/pools/{pool}/protections/{account}/reverse", authAdmin, "Swap a protection's source and standby once the account's DNS points at the standby (409 otherwise, or while a run is in progress)", nil, api.Protection{}, 0, s.reverseProtection},
		{"GET", v + "/pools/{pool}/protections/{account}/runs", authAdmin, "List a protection's runs, newest first (?limit=N, at most 1000)", nil, api.List[api.Run]{}, 0, s.listRuns},
		{"GET", v + "/runs/{id}", authAdmin, "Show a replication run", nil, api.Run{}, 0, s.getRun},
		{"GET", v + "/runs/{id}/log", authAdmin, "Read a replication run's log (?after=SEQ&wait=DURATION)", nil, api.List[api.RunLogLine]{}, 0, s.runLog},
		{"POST", v + "/runs/{id}/confirm", authAdmin, "Let a run that needs confirmation replace the standby's copy (409 unless it needs confirmation, or while the account's DNS points away from its source)", nil, api.Run{}, 0, s.confirmRun},
		{"POST", v + "/runs/{id}/reject", authAdmin, "Discard a run that needs confirmation: the standby keeps its copy (409 unless it needs confirmation)", nil, api.Run{}, 0, s.rejectRun},

		{"PUT", v + "/pools/{pool}/members/{member}/profile", authAdmin, "Set a member's profile (standard, mail, dns, database), checked against the services its agent detected", api.ProfileSet{}, api.Member{}, 0, s.setProfile},
		{"GET", v + "/links", authAdmin, "List linked nodes (?pool=)", nil, api.List[api.Link]{}, 0, s.listLinks},
		{"GET", v + "/pools/{pool}/links", authAdmin, "List a pool's linked nodes", nil, api.List[api.Link]{}, 0, s.listPoolLinks},
		{"POST", v + "/pools/{pool}/links", authAdmin, "Link a child to a parent for a function (mail); refused with the reason", api.LinkCreate{}, api.Link{}, 201, s.addLink},
		{"DELETE", v + "/pools/{pool}/links/{child}", authAdmin, "Remove a child's link (409 while accounts are distributed to it)", nil, nil, 204, s.removeLink},
		{"GET", v + "/pools/{pool}/links/{child}/accounts", authAdmin, "The accounts distributed to a child", nil, api.List[api.DistributedAccount]{}, 0, s.linkAccounts},
		{"POST", v + "/pools/{pool}/members/{member}/accounts/{account}/distribute", authAdmin, "Start moving an account's mail to a linked child (a resumable run)", api.Distribute{}, api.DistributionRun{}, 202, s.distribute},
		{"POST", v + "/pools/{pool}/members/{member}/accounts/{account}/dedistribute", authAdmin, "Start moving an account's mail back from its child (force with the child unreachable needs confirm)", api.Dedistribute{}, api.DistributionRun{}, 202, s.dedistribute},
		{"GET", v + "/distribution-runs", authAdmin, "List distribution runs, newest first (?pool=&account=&limit=)", nil, api.List[api.DistributionRun]{}, 0, s.distributionRuns},
		{"GET", v + "/distribution-runs/{id}", authAdmin, "Show a distribution run", nil, api.DistributionRun{}, 0, s.distributionRun},
		{"GET", v + "/distribution-runs/{id}/log", authAdmin, "Read a distribution run's log (?after=SEQ&wait=DURATION)", nil, api.List[api.RunLogLine]{}, 0, s.distributionLog},

		{"GET", v + "/notify/channels", authAdmin, "List notification channels (secrets are never shown)", nil, api.List[api.NotifyChannel]{}, 0, s.listChannels},
		{"POST", v + "/notify/channels", authAdmin, "Add a notification channel (email or webhook); its secret is sealed with the master key", api.NotifyChannelCreate{}, api.NotifyChannel{}, 201, s.addChannel},
		{"GET", v + "/notify/channels/{name}", authAdmin, "Show a notification channel", nil, api.NotifyChannel{}, 0, s.getChannel},
		{"DELETE", v + "/notify/channels/{name}", authAdmin, "Remove a notification channel with its delivery history and routes", nil, nil, 204, s.removeChannel},
		{"POST", v + "/notify/channels/{name}/test", authAdmin, "Send a test message to a channel now and answer its outcome", nil, api.NotifyDelivery{}, 0, s.testChannel},
		{"GET", v + "/notify/deliveries", authAdmin, "The delivery history, newest first (?channel=&pool=&status=&limit=, at most 1000)", nil, api.List[api.NotifyDelivery]{}, 0, s.listDeliveries},
		{"GET", v + "/notify/deliveries/{id}", authAdmin, "One delivery with its attempts", nil, api.NotifyDelivery{}, 0, s.getDelivery},
		{"GET", v + "/pools/{pool}/monitor", authAdmin, "A pool's monitoring routes and latest incidents", nil, api.MonitorSettings{}, 0, s.monitorSettings},
		{"PUT", v + "/pools/{pool}/monitor/channels/{channel}", authAdmin, "Send a pool's alerts of a severity (critical, or warning and worse) to a channel", api.MonitorRouteSet{}, api.MonitorSettings{}, 0, s.setMonitorRoute},
		{"DELETE", v + "/pools/{pool}/monitor/channels/{channel}", authAdmin, "Stop sending a pool's alerts to a channel", nil, nil, 204, s.removeMonitorRoute},
		{"GET", v + "/maintenance", authAdmin, "Maintenance windows open or to come (?pool=)", nil, api.List[api.MaintenanceWindow]{}, 0, s.listMaintenance},
		{"POST", v + "/pools/{pool}/maintenance", authAdmin, "Start a one-off maintenance window of a pool or member now, or schedule one (cron, UTC)", api.MaintenanceStart{}, api.MaintenanceWindow{}, 201, s.startMaintenance},
		{"DELETE", v + "/pools/{pool}/maintenance", authAdmin, "End a pool's (?member= a member's) one-off windows now and remove its scheduled ones", nil, api.MaintenanceStopped{}, 0, s.stopMaintenance},

		{"GET", v + "/tokens", authAdmin, "List API tokens", nil, api.List[api.Token]{}, 0, s.listTokens},
		{"POST", v + "/tokens", authAdmin, "Create an API token; answers its secret once", api.TokenCreate{}, api.TokenCreated{}, 201, s.createToken},
		{"DELETE", v + "/tokens/{id}", authAdmin, "Revoke an API token", nil, nil, 204, s.revokeToken},

		{"GET", v + "/zones", authAdmin, "List zones", nil, api.List[api.Zone]{}, 0, s.listZones},
		{"POST", v + "/zones", authAdmin, "Create a zone", api.ZoneCreate{}, api.Zone{}, 201, s.createZone},
		{"GET", v + "/zones/{zone}", authAdmin, "Show a zone", nil, api.Zone{}, 0, s.getZone},
		{"DELETE", v + "/zones/{zone}", authAdmin, "Delete a zone and its records", nil, nil, 204, s.deleteZone},
		{"GET", v + "/zones/{zone}/records", authAdmin, "List a zone's records", nil, api.List[api.Record]{}, 0, s.listRecords},
		{"POST", v + "/zones/{zone}/records", authAdmin, "Add a record", api.RecordCreate{}, api.Record{}, 201, s.addRecord},
		{"DELETE", v + "/zones/{zone}/records/{id}", authAdmin, "Delete a record", nil, nil, 204, s.deleteRecord},
		{"GET", v + "/zones/{zone}/dnssec", authAdmin, "A zone's DNSSEC state: keys, DS, CDS/CDNSKEY, rollover", nil, api.DNSSECStatus{}, 0, s.dnssecStatus},
		{"POST", v + "/zones/{zone}/dnssec", authAdmin, "Sign a zone with DNSSEC (a new KSK and ZSK, ECDSA P-256; NSEC3)", nil, api.DNSSECStatus{}, 201, s.enableDNSSEC},
		{"DELETE", v + "/zones/{zone}/dnssec", authAdmin, "Stop signing a zone and delete its keys (remove its DS at the parent first)", nil, nil, 204, s.disableDNSSEC},
		{"GET", v + "/zones/{zone}/dnssec/ds", authAdmin, "The DS, CDS and CDNSKEY records of a signed zone, for the registrar", nil, api.DNSSECDS{}, 0, s.dnssecDS},
		{"POST", v + "/zones/{zone}/dnssec/rollover", authAdmin, "Start a key rollover: zsk (pre-publish) or ksk (double signature)", api.DNSSECRolloverStart{}, api.DNSSECStatus{}, 202, s.dnssecRollover},
		{"GET", v + "/dns/providers", authAdmin, "List DNS providers (credentials are never shown)", nil, api.List[api.DNSProvider]{}, 0, s.listDNSProviders},
		{"POST", v + "/dns/providers", authAdmin, "Add a DNS provider (powerdns, rfc2136, cloudflare), checked by a harmless read first; its credential is sealed with the master key", api.DNSProviderCreate{}, api.DNSProvider{}, 201, s.addDNSProvider},
		{"GET", v + "/dns/providers/{name}", authAdmin, "Show a DNS provider and what uses it", nil, api.DNSProvider{}, 0, s.getDNSProvider},
		{"DELETE", v + "/dns/providers/{name}", authAdmin, "Remove a DNS provider (409 naming the pools that use it)", nil, nil, 204, s.removeDNSProvider},
		{"GET", v + "/dns/cluster", authAdmin, "The DNS cluster's switch and failure threshold", nil, api.ClusterSettings{}, 0, s.clusterSettings},
		{"PUT", v + "/dns/cluster", authAdmin, "Switch the DNS cluster on or off, set its failure threshold", api.ClusterSettingsUpdate{}, api.ClusterSettings{}, 0, s.updateClusterSettings},
		{"GET", v + "/dns/cluster/members", authAdmin, "List the DNS cluster's members", nil, api.List[api.ClusterMember]{}, 0, s.clusterMembers},
		{"POST", v + "/dns/cluster/members", authAdmin, "Add a DNS cluster member (its address, certificate, token and version are checked first)", api.ClusterMemberCreate{}, api.ClusterMember{}, 201, s.addClusterMember},
		{"PATCH", v + "/dns/cluster/members/{host}", authAdmin, "Change a DNS cluster member in place: role, debug log, URL, token, CA (checked against it first)", api.ClusterMemberUpdate{}, api.ClusterMember{}, 0, s.updateClusterMember},
		{"DELETE", v + "/dns/cluster/members/{host}", authAdmin, "Remove a DNS cluster member (?force=true when zones exist only there)", nil, api.ClusterMemberRemoved{}, 0, s.removeClusterMember},
		{"POST", v + "/dns/cluster/members/{host}/enable", authAdmin, "Enable a disabled DNS cluster member again and resynchronise it", nil, api.ClusterMember{}, 0, s.enableClusterMember},
		{"POST", v + "/dns/cluster/resync", authAdmin, "Compare one member (?host=) or all at once: every zone sent again to the members written to, changes fetched from those read from", nil, api.ClusterResync{}, 0, s.resyncCluster},
		{"GET", v + "/dns/cluster/members/{host}/log", authAdmin, "A DNS cluster member's latest operations, newest first (?limit=, default 100)", nil, api.List[api.ClusterLogEntry]{}, 0, s.clusterLog},
		{"GET", v + "/dns/cluster/conflicts", authAdmin, "Zones in conflict between this server and a member (?all=true: resolved ones too)", nil, api.List[api.ClusterConflict]{}, 0, s.clusterConflicts},
		{"GET", v + "/dns/cluster/conflicts/{id}", authAdmin, "One DNS cluster conflict with both versions of the zone", nil, api.ClusterConflict{}, 0, s.clusterConflict},
		{"POST", v + "/dns/cluster/conflicts/{id}/resolve", authAdmin, "Resolve a DNS cluster conflict by choosing a side (keep local or remote)", api.ClusterConflictResolve{}, api.ClusterConflict{}, 0, s.resolveClusterConflict},
		{"GET", v + "/cluster/hello", authCluster, "What this DNS cluster member is: its version, kind and zone serials", nil, api.ClusterHello{}, 0, s.clusterHello},
		{"POST", v + "/cluster/peers", authCluster, "A member that was added with reverse trust asks this server to know it (in the role it names, standalone)", api.ClusterPeer{}, api.ClusterMember{}, 201, s.clusterPeer},
		{"GET", v + "/cluster/zones/{zone}", authCluster, "A zone as this member serves it (its zone file and serial), for a member that fetches zones from here", nil, api.ClusterZone{}, 0, s.clusterGet},
		{"PUT", v + "/cluster/zones/{zone}", authCluster, "Write a zone sent by another member of the DNS cluster (idempotent; never goes back to an older serial)", api.ClusterZone{}, api.ClusterApplied{}, 0, s.clusterPut},
		{"DELETE", v + "/cluster/zones/{zone}", authCluster, "Delete a zone another member of the DNS cluster deleted (idempotent)", nil, nil, 204, s.clusterDelete},
		{"POST", v + "/zones/{zone}/import", authAdmin, "Import RFC 1035 zone-file text; a missing zone is created from the file, SOA included", api.ZoneImport{}, api.ZoneImportResult{}, 0, s.importZone},
		{"GET", v + "/zones/{zone}/export", authAdmin, "Export the zone as RFC 1035 text", nil, zoneText{}, 0, s.exportZone},

		{"POST", v + "/agent/enroll", authNone, "Redeem an enrolment secret for an agent credential", api.EnrollRequest{}, api.EnrollResponse{}, 201, s.enroll},
		{"POST", v + "/agent/heartbeat", authAgent, "Report the agent's state", api.Heartbeat{}, api.HeartbeatReply{}, 0, s.heartbeat},
		{"GET", v + "/agent/jobs/next", authAgent, "Long-poll for the next job (?wait=25s); 204 when none", nil, api.Job{}, 0, s.nextJob},
		{"POST", v + "/agent/jobs/{id}/log", authAgent, "Append log lines to a running job (renews its lease)", api.JobLogAppend{}, nil, 204, s.appendJobLog},
		{"POST", v + "/agent/jobs/{id}/result", authAgent, "Report a job's result", api.JobResult{}, nil, 204, s.finishJob},

		{"GET", v + "/agent/objects", authAgent, "List stored objects (?prefix=&after=KEY&limit=N, at most 10000)", nil, api.List[api.ObjectInfo]{}, 0, s.listObjects},
		{"PUT", v + "/agent/objects/{key...}", authAgent, "Store an object (raw body with Content-Length, at most 64 MiB)", octets{}, nil, 204, s.putObject},
		{"GET", v + "/agent/objects/{key...}", authAgent, "Read an object (raw body)", nil, octets{}, 0, s.getObject},
		{"DELETE", v + "/agent/objects/{key...}", authAgent, "Delete an object", nil, nil, 204, s.deleteObject},
		{"POST", v + "/agent/objects-batch", authAgent, "Store many small objects in one request (frames of key and data, see api.AppendObjectFrame)", octets{}, nil, 204, s.putObjects},
		{"GET", v + "/agent/releases", authNone, "The agent binaries this server offers (rate limited per source)", nil, api.AgentReleases{}, 0, s.listReleases},
		{"GET", v + "/agent/releases/SHA256SUMS", authNone, "The agent binaries' SHA-256 sums in sha256sum format", nil, plainText{}, 0, s.releaseSums},
		{"GET", v + "/agent/releases/{os}/{arch}", authNone, "Download an agent binary (Range and If-None-Match; X-Poolctl-Sha256 header)", nil, octets{}, 0, s.agentBinary},
		{"GET", v + "/agent/install.sh", authNone, "The agent install script (also at /install.sh)", nil, plainText{}, 0, s.installScript},
		{"GET", v + "/agent/protections/{id}/key", authAgent, "The chunk key of a protection this member replicates", nil, api.ChunkKey{}, 0, s.chunkKey},
	}
}
