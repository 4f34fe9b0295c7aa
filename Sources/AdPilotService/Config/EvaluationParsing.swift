import AdPilotCore
import AdPilotPlatforms

extension ServiceConfig {
    /// `exploration`: absent or null, none (a configuration written before exploration
    /// existed does not start perturbing budgets on an upgrade); else `scale` (0...0.5, the
    /// standard deviation of the log multiplier, 0 for none), `seed` and `distribution`
    /// (optional, `lognormal` by default).
    static func parseExploration(_ json: JSON?) throws(ConfigProblem) -> ExplorationConfig {
        guard let json else { return .off }
        var r = try ObjectReader(json, path: "exploration")
        let scale = try r.double("scale", in: 0...0.5)
        let seed = try r.int("seed", in: 0...Int64.max)
        let name = try r.optionalString("distribution") ?? ExplorationConfig.Distribution.lognormal.rawValue
        guard let distribution = ExplorationConfig.Distribution(rawValue: name) else {
            let known = ExplorationConfig.Distribution.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
            throw ConfigProblem(key: r.key("distribution"), problem: "must be \(known)")
        }
        try r.finish()
        return ExplorationConfig(scale: scale, seed: UInt64(seed), distribution: distribution)
    }

    /// `gates`; the value and confidence-sequence keys are optional (a configuration
    /// written before them keeps working, with the documented defaults).
    static func parseGates(_ reader: ObjectReader) throws(ConfigProblem) -> GateConfig {
        var r = reader
        var s = try r.object("shadow_to_canary")
        var l = try r.object("canary_to_live")
        let cohortHours = Int(try l.int("cohort_hours_min", in: 1...1_000_000))
        let g = GateConfig(
            shadowHoursMin: try s.double("hours_min", in: 0...8_760),
            shadowDecisionsMin: Int(try s.int("decisions_min", in: 0...100_000_000)),
            shadowVetoRateMax: try s.double("veto_rate_max", in: 0...1),
            valueMargin: try s.optionalDouble("value_margin", in: 0...10) ?? 0.02,
            effectiveSampleSizeMin: try s.optionalDouble("effective_sample_size_min", in: 0...1e9) ?? 30,
            canaryHoursMin: try l.double("hours_min", in: 0...8_760),
            profitMargin: try l.optionalDouble("profit_margin", in: 0...10) ?? 0.1,
            alpha: try l.optionalDouble("alpha", in: 0.000_1...0.5) ?? 0.05,
            horizonHours: try l.optionalDouble("horizon_hours", in: 1...1_000_000) ?? Double(cohortHours),
            cohortHoursMin: cohortHours,
            pacingErrorMax: try l.double("pacing_error_max", in: 0...10),
            failureLimit: Int(try l.int("failure_limit", in: 1...10_000)))
        try s.finish()
        do { try l.finish() } catch where error.key.hasSuffix(".roas_margin_max") {
            throw ConfigProblem(
                key: error.key,
                problem: "no longer used: canary analysis compares profit with a confidence sequence; "
                    + "set profit_margin (docs/configuration.md) and remove this key")
        }
        try r.finish()
        return g
    }
}
