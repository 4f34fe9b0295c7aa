extension ServiceConfig {
    /// The keys whose change a running daemon cannot take over on SIGHUP (they shape the
    /// platform connection, the clock, the control socket's group or the open journal),
    /// as config key paths; empty when `self` may replace `old` in place.
    package func restartRequired(from old: ServiceConfig) -> [String] {
        var keys: [String] = []
        if platform != old.platform { keys.append("platform") }
        if revenue != old.revenue { keys.append("revenue") }
        if clock != old.clock { keys.append("clock") }
        if operatorsGroup != old.operatorsGroup { keys.append("operators_group") }
        if journalKeyCredential != old.journalKeyCredential { keys.append("journal.key_credential") }
        if journalSegmentBytesMax != old.journalSegmentBytesMax { keys.append("journal.segment_bytes_max") }
        if journalSealInterval != old.journalSealInterval { keys.append("journal.seal_interval") }
        return keys
    }
}
