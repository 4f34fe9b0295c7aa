import AdPilotControl
import AdPilotCore
import AdPilotPlatforms
import AdPilotSystem
import AdPilotJournal

/// Reading a configuration: every key checked, in the order the file is documented, and
/// the first problem reported with its key path (docs/configuration.md).
extension ServiceConfig {
    static func parse(_ json: JSON) throws(ConfigProblem) -> ServiceConfig {
        var r = try ObjectReader(json, path: "")
        let version = try r.int("version", in: 0...Int64.max)
        guard version == formatVersion else {
            throw ConfigProblem(
                key: "version", problem: "unsupported config version \(version) (this adpilotd reads \(formatVersion))")
        }
        let tickSeconds = try r.int("tick_seconds", in: 1...86_400)
        let clock = try parseClock(try r.object("clock"))
        let group = try parseGroup(&r)
        let dirs = try parsePolicyDirs(&r)
        var slots = try r.object("slots")
        let live = try slots.policy("live")
        let candidate = try slots.policy("candidate")
        try slots.finish()
        let platform = try parsePlatform(try r.required("platform"), clock: clock)
        let currency = platformCurrency(platform)
        let revenue = try parseRevenue(r.optional("revenue"), platform: platform, currency: currency)
        var journal = try r.object("journal")
        let segmentBytes = try journal.int("segment_bytes_max", in: Int64(1 << 20)...(Int64(1) << 40))
        let sealInterval = try journal.int("seal_interval", in: 1...1_000_000)
        let keyCredential = try journal.optionalString("key_credential")
        try journal.finish()
        var metrics = try r.object("metrics")
        let metricsPath = try metrics.optionalString("textfile_path")
        try metrics.finish()
        let account = try parseAccount(try r.object("account"))
        let pacer = try parsePacer(try r.object("pacer"))
        let breaker = try parseBreaker(try r.object("breaker"))
        let anomaly = try parseAnomaly(try r.object("anomaly"))
        let (defaults, overrides) = try parseCampaigns(&r, currency: currency)
        let canary = try parseCanary(try r.object("canary"))
        let gates = try parseGates(try r.object("gates"))
        let exploration = try parseExploration(r.optional("exploration"))
        try r.finish()
        let canonical = try journalable(json)
        var config = ServiceConfig(
            tickSeconds: tickSeconds, clock: clock, operatorsGroup: group, policyDirs: dirs,
            initialLive: live, initialCandidate: candidate, platform: platform, platformCurrency: currency,
            revenue: revenue,
            journalSegmentBytesMax: segmentBytes, journalSealInterval: Int(sealInterval),
            journalKeyCredential: keyCredential, metricsPath: metricsPath, account: account, pacer: pacer,
            breaker: breaker, anomaly: anomaly, campaignDefaults: defaults, campaignOverrides: overrides,
            canary: canary, gates: gates, canonicalJSON: canonical, digest: Crypto.sha256(Array(canonical.utf8)))
        config.exploration = exploration
        return config
    }

    static func parseGroup(_ r: inout ObjectReader) throws(ConfigProblem) -> String? {
        let group = try r.optionalString("operators_group")
        if let group, !group.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: ":") }) {
            throw ConfigProblem(key: "operators_group", problem: "not a valid group name")
        }
        return group
    }

    static func parsePolicyDirs(_ r: inout ObjectReader) throws(ConfigProblem) -> [String] {
        var dirs: [String] = []
        for (i, d) in try r.array("policy_dirs").enumerated() {
            guard let s = d.string, !s.isEmpty else {
                throw ConfigProblem(key: "policy_dirs[\(i)]", problem: "must be a directory path")
            }
            dirs.append(s)
        }
        return dirs
    }

    /// An ad platform (Shopify is a revenue source); an accelerated clock only with the simulator.
    static func parsePlatform(_ json: JSON, clock: ClockSetting) throws(ConfigProblem) -> PlatformSettings {
        let platform: PlatformSettings
        switch PlatformSettings.parse(json, path: "platform") {
        case .success(let p): platform = p
        case .failure(let p): throw ConfigProblem(key: p.key, problem: p.problem)
        }
        if case .shopify = platform {
            throw ConfigProblem(
                key: "platform.kind",
                problem: "shopify is a revenue source, not an ad platform: configure tiktok, meta or simulator")
        }
        if case .simulator = platform {
        } else if case .accelerated = clock {
            throw ConfigProblem(
                key: "clock.kind",
                problem: "an accelerated clock drives the simulator only; real platforms need \"system\"")
        }
        return platform
    }

    /// `campaign_defaults`, and `campaigns`: each entry merged over the defaults, ids unique.
    static func parseCampaigns(_ r: inout ObjectReader, currency: Currency) throws(ConfigProblem)
        -> (CampaignTemplate, [CampaignID: CampaignTemplate])
    {
        let defaultsJSON = try r.required("campaign_defaults")
        let defaults = try parseTemplate(defaultsJSON, path: "campaign_defaults", currency: currency, allowID: false).1
        var overrides: [CampaignID: CampaignTemplate] = [:]
        let list = try r.array("campaigns")
        guard list.count <= campaignOverridesMax else {
            throw ConfigProblem(key: "campaigns", problem: "at most \(campaignOverridesMax) entries")
        }
        for (i, entry) in list.enumerated() {
            let (id, t) = try parseTemplate(
                defaultsJSON.merged(with: entry), path: "campaigns[\(i)]", currency: currency, allowID: true)
            guard let id else { throw ConfigProblem(key: "campaigns[\(i)].id", problem: "required") }
            guard overrides.updateValue(t, forKey: id) == nil else {
                throw ConfigProblem(key: "campaigns[\(i)].id", problem: "campaign \(id) is listed twice")
            }
        }
        return (defaults, overrides)
    }

    /// The compact JSON, refused when it would not fit one journal record (decisions cite
    /// the digest of the config record that holds it in full).
    static func journalable(_ json: JSON) throws(ConfigProblem) -> String {
        let canonical = json.encoded
        let limit = RecordFormat.lineBytesMax - 4_096
        guard canonical.utf8.count <= limit else {
            throw ConfigProblem(
                key: "",
                problem: "\(canonical.utf8.count) bytes once compacted; a config must fit one journal record "
                    + "(\(limit) bytes): use campaign_defaults and fewer per-campaign overrides")
        }
        return canonical
    }

    static func platformCurrency(_ p: PlatformSettings) -> Currency {
        switch p {
        case .simulator: return .usd
        case .tiktok(let c, _): return c.currency
        case .meta(let c, _): return c.currency
        case .shopify(let c, _): return c.currency
        }
    }

    static func parseClock(_ reader: ObjectReader) throws(ConfigProblem) -> ClockSetting {
        var r = reader
        let kind = try r.string("kind")
        let clock: ClockSetting
        switch kind {
        case "system":
            clock = .system
        case "accelerated":
            clock = .accelerated(speed: try r.double("speed", in: 0.001...1_000_000))
        default:
            throw ConfigProblem(key: r.key("kind"), problem: "must be \"system\" or \"accelerated\"")
        }
        try r.finish()
        return clock
    }

    static func parseAccount(_ reader: ObjectReader) throws(ConfigProblem) -> AccountLimits {
        var r = reader
        let a = AccountLimits(
            dailyCapMicros: try r.micros("daily_cap_micros"),
            maxSpendAtRiskMicros: try r.micros("max_spend_at_risk_micros"),
            overdeliveryBasisPoints: try r.int(
                "overdelivery_basis_points", in: 0...AccountLimits.overdeliveryBasisPointsMax),
            utcOffsetSeconds: try r.int(
                "utc_offset_seconds", in: -AccountLimits.utcOffsetSecondsMax...AccountLimits.utcOffsetSecondsMax),
            staleAfterSeconds: try r.int("stale_after_seconds", in: 1...7 * 86_400))
        try r.finish()
        try firstProblem(a.validationProblems(), prefix: "")
        return a
    }

    static func parseGains(_ reader: ObjectReader) throws(ConfigProblem) -> PIDGains {
        var r = reader
        let g = PIDGains(
            kp: try r.double("kp", in: 0...1_000), ki: try r.double("ki", in: 0...1_000),
            kd: try r.double("kd", in: 0...1_000),
            integralMax: try r.double("integral_max", in: 0...1_000),
            outputMin: try r.double("output_min", in: -1...0), outputMax: try r.double("output_max", in: 0...10))
        try r.finish()
        guard g.isValid else { throw ConfigProblem(key: r.path, problem: "output_min must be below output_max") }
        return g
    }

    static func parsePacer(_ reader: ObjectReader) throws(ConfigProblem) -> PacerConfig {
        var r = reader
        let pace = try parseGains(try r.object("pace"))
        let mode = try r.optionalString("profile_mode") ?? ProfileMode.learned.rawValue
        guard let profileMode = ProfileMode(rawValue: mode) else {
            throw ConfigProblem(key: "pacer.profile_mode", problem: "must be \"learned\" or \"fixed\"")
        }
        let priorDays = try r.optionalDouble("profile_prior_days", in: 0.01...28) ?? 1
        let efficiency = try parseGains(try r.object("efficiency"))
        var weights: [Double] = []
        for (i, w) in try r.array("profile").enumerated() {
            guard case .number = w, let d = w.double, d.isFinite, d >= 0 else {
                throw ConfigProblem(key: "pacer.profile[\(i)]", problem: "must be a non-negative number")
            }
            weights.append(d)
        }
        guard let profile = HourlyProfile(weights: weights) else {
            throw ConfigProblem(
                key: "pacer.profile", problem: "needs 24 non-negative weights (local hours 0-23) with a positive sum")
        }
        var p = PacerConfig(
            pace: pace, efficiency: efficiency, profile: profile,
            efficiencyConversionsMin: try r.double("efficiency_conversions_min", in: 0...1_000_000),
            policyAuthority: try r.double("policy_authority", in: 0...10))
        p.profileMode = profileMode
        p.profilePriorDays = priorDays
        p.efficiencyZ = try r.optionalDouble("efficiency_z", in: 0...10) ?? 1
        try r.finish()
        try firstProblem(p.validationProblems(), prefix: "")
        return p
    }

    static func parseBreaker(_ reader: ObjectReader) throws(ConfigProblem) -> BreakerConfig {
        var r = reader
        var w = try r.object("window")
        let window: BreakerConfig.Window
        let calls = w.optional("calls"), seconds = w.optional("seconds")
        if calls != nil && seconds != nil {
            throw ConfigProblem(key: w.path, problem: "give one of calls or seconds, not both")
        }
        if calls != nil {
            window = .count(Int(try w.int("calls", in: 1...Int64(BreakerConfig.countWindowMax))))
        } else {
            window = .time(
                seconds: try w.int("seconds", in: Int64(BreakerConfig.timeBuckets)...BreakerConfig.timeWindowSecondsMax)
            )
        }
        try w.finish()
        let b = BreakerConfig(
            window: window, minimumCalls: Int(try r.int("minimum_calls", in: 1...1_000)),
            failureRateThreshold: try r.double("failure_rate_threshold", in: 0.001...1),
            waitInOpenSeconds: try r.int("wait_in_open_seconds", in: 0...86_400),
            permittedCallsInHalfOpen: Int(try r.int("permitted_calls_in_half_open", in: 1...1_000)))
        try r.finish()
        guard b.isValid else {
            throw ConfigProblem(key: "breaker.minimum_calls", problem: "must not exceed the window's calls")
        }
        return b
    }

    static func parseAnomaly(_ reader: ObjectReader) throws(ConfigProblem) -> AnomalyConfig {
        var r = reader
        let d = AnomalyConfig.standard
        let a = AnomalyConfig(
            robustZWarn: try r.double("robust_z_warn", in: 0.1...1_000),
            robustZCritical: try r.double("robust_z_critical", in: 0.1...1_000),
            baselineDaysMin: Int(try r.int("baseline_days_min", in: 1...7)),
            rateSpread: try r.optionalDouble("rate_spread", in: 0.01...10) ?? d.rateSpread,
            outageExpectedConversions: try r.optionalDouble("outage_expected_conversions", in: 1...10_000)
                ?? d.outageExpectedConversions,
            raiseAfterHours: Int(try r.int("raise_after_hours", in: 1...168)),
            clearAfterHours: Int(try r.int("clear_after_hours", in: 1...168)),
            accountHaltShare: try r.optionalDouble("account_halt_share", in: 0...1) ?? d.accountHaltShare,
            accountHaltCampaignsMin: Int(
                try r.optionalInt("account_halt_campaigns_min", in: 1...1_000_000) ?? Int64(d.accountHaltCampaignsMin)))
        // The EWMA on raw totals is gone (it alarmed on the controller's own budget moves):
        // configs written for it still load, and its keys are ignored.
        for key in ["ewma_alpha", "ewma_sigmas", "ewma_warmup_hours"] { _ = r.optional(key) }
        try r.finish()
        guard a.robustZCritical > a.robustZWarn else {
            throw ConfigProblem(key: "anomaly.robust_z_critical", problem: "must be above robust_z_warn")
        }
        return a
    }

    static func parseBounds(_ json: JSON, path: String) throws(ConfigProblem) -> BudgetBounds {
        var r = try ObjectReader(json, path: path)
        let b = BudgetBounds(minMicros: try r.micros("min_micros"), maxMicros: try r.micros("max_micros"))
        try r.finish()
        return b
    }

    static func parseTemplate(
        _ json: JSON, path: String, currency: Currency, allowID: Bool
    ) throws(ConfigProblem) -> (CampaignID?, CampaignTemplate) {
        var r = try ObjectReader(json, path: path)
        var id: CampaignID? = nil
        if allowID {
            guard let s = try r.optionalString("id") else {
                throw ConfigProblem(key: r.key("id"), problem: "required: the platform's campaign id")
            }
            guard !s.isEmpty, s.utf8.count <= 128 else {
                throw ConfigProblem(
                    key: r.key("id"), problem: "a campaign id has 1 to 128 bytes; this one has \(s.utf8.count)")
            }
            id = CampaignID(s)
        }
        let target = try r.micros("daily_target_micros")
        let efficiency: EfficiencyTarget
        let e = try r.required("efficiency_target")
        if e.string == "none" {
            efficiency = .none
        } else {
            var er = try ObjectReader(e, path: r.key("efficiency_target"))
            let roas = try er.optionalDouble("roas", in: 0.001...1_000)
            if roas != nil && er.optional("cpa_micros") != nil {
                throw ConfigProblem(key: er.path, problem: "give one of roas or cpa_micros, not both")
            }
            if let roas {
                efficiency = .roas(roas)
            } else if er.optional("cpa_micros") != nil {
                efficiency = .cpa(try er.micros("cpa_micros"))
            } else {
                throw ConfigProblem(key: er.path, problem: "must be \"none\", {\"roas\": R} or {\"cpa_micros\": N}")
            }
            try er.finish()
        }
        var g = try r.object("guardrails")
        let bounds = try parseBounds(try g.required("bounds"), path: g.key("bounds"))
        var hourly: [BudgetBounds]? = nil
        if let h = g.optional("hourly_bounds") {
            guard let a = h.array else {
                throw ConfigProblem(key: g.key("hourly_bounds"), problem: "must be an array of 24 bounds or null")
            }
            var out: [BudgetBounds] = []
            for (i, b) in a.enumerated() { out.append(try parseBounds(b, path: g.key("hourly_bounds[\(i)]"))) }
            hourly = out
        }
        let guardrails = GuardrailConfig(
            bounds: bounds, hourlyBounds: hourly,
            maxStepFraction: try g.double("max_step_fraction", in: 0...1),
            canaryMaxStepFraction: try g.double("canary_max_step_fraction", in: 0...1),
            maxStepFloorMicros: try g.micros("max_step_floor_micros"),
            dailyCapMicros: try g.micros("daily_cap_micros"),
            noConversionWindowHours: Int(
                try g.int("no_conversion_window_hours", in: 1...Int64(GuardrailConfig.noConversionWindowHoursMax))),
            roasFloor: try g.optionalDouble("roas_floor", in: 0...1_000),
            roasFloorSpendMinMicros: try g.micros("roas_floor_spend_min_micros"),
            cooldownSeconds: try g.int("cooldown_seconds", in: 0...GuardrailConfig.cooldownSecondsMax))
        try g.finish()
        try r.finish()
        let t = CampaignTemplate(dailyTargetMicros: target, efficiencyTarget: efficiency, guardrails: guardrails)
        let probe = t.config(id: id ?? CampaignID("template"), currency: currency)
        try firstProblem(probe.validationProblems(), prefix: path + ".")
        return (id, t)
    }

    static func parseCanary(_ reader: ObjectReader) throws(ConfigProblem) -> CanaryScopeSetting {
        var r = reader
        let ids = r.optional("campaigns")
        let fraction = try r.optionalDouble("budget_fraction", in: 0...1)
        try r.finish()
        switch (ids, fraction) {
        case (let list?, nil):
            guard let a = list.array else {
                throw ConfigProblem(key: "canary.campaigns", problem: "must be an array of campaign ids")
            }
            var out: [CampaignID] = []
            for (i, v) in a.enumerated() {
                guard let s = v.string, !s.isEmpty else {
                    throw ConfigProblem(key: "canary.campaigns[\(i)]", problem: "must be a campaign id")
                }
                out.append(CampaignID(s))
            }
            return .campaigns(out)
        case (nil, let f?):
            return .budgetFraction(f)
        default:
            throw ConfigProblem(
                key: "canary", problem: "give exactly one of campaigns (a list of ids) or budget_fraction (0...1)")
        }
    }

    static func firstProblem(_ problems: [(key: String, problem: String)], prefix: String) throws(ConfigProblem) {
        if let p = problems.first { throw ConfigProblem(key: prefix + p.key, problem: p.problem) }
    }
}
