/// The controller's per-campaign state written straight as JSON for the snapshots: the
/// bytes its `Codable` conformances give through the snapshot encoder (keys as declared,
/// in declaration order, nil optionals left out), which `SnapshotJSONTests` holds them to.
/// At 100,000 campaigns the generic encoder built a tree of every value first and took
/// seconds of a core per tick (docs/performance.md). A non-finite number is an error, as
/// it is for `JSONEncoder`.
extension PIDState {
    package func writeStateJSON(_ out: inout JSONOut) throws(JSONOut.NonFiniteNumber) {
        out.open()
        try out.finite("integral", integral)
        if let lastMeasurement { try out.finite("lastMeasurement", lastMeasurement) }
        out.close()
    }
}

extension PacerState {
    package func writeStateJSON(_ out: inout JSONOut) throws(JSONOut.NonFiniteNumber) {
        out.open()
        out.key("pace")
        try pace.writeStateJSON(&out)
        out.key("efficiency")
        try efficiency.writeStateJSON(&out)
        out.bool("engaged", engaged)
        if let day { out.int("day", day) }
        if let lastStepAt { out.int("lastStepAt", lastStepAt.microsSinceEpoch) }
        out.close()
    }
}

extension AnomalyState {
    package func writeStateJSON(_ out: inout JSONOut) throws(JSONOut.NonFiniteNumber) {
        out.open()
        out.key("history")
        out.asciiString(count: history.count * 8) { writeHistoryHex($0) }
        try out.finite("outageExpected", outageExpected)
        if let lastHour { out.int("lastHour", lastHour) }
        out.int("hoursAtOrAboveWarn", Int64(hoursAtOrAboveWarn))
        out.int("hoursAtOrAboveCritical", Int64(hoursAtOrAboveCritical))
        out.int("hoursBelowLevel", Int64(hoursBelowLevel))
        out.key("assessment")
        out.open()
        out.string("level", assessment.level.name)
        out.string("latest", assessment.latest.name)
        out.key("findings")
        out.openArray()
        for f in assessment.findings {
            out.open()
            out.string("check", f.check)
            out.string("severity", f.severity.name)
            try out.finite("value", f.value)
            if let baseline = f.baseline { try out.finite("baseline", baseline) }
            if let score = f.score { try out.finite("score", score) }
            out.close()
        }
        out.closeArray()
        out.close()
        out.close()
    }
}
