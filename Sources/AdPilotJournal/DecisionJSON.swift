package import AdPilotCore

/// A record whose JSON is written by hand, straight to bytes: the decision, written once
/// per campaign and tick. `RecordEncoder` takes this path; the output is byte for byte what
/// the record's `Codable` conformance gives through `JSONEncoder` with the journal's
/// settings, keys sorted by hand here (`RecordEncoderTests`, `ReplayTests` compare them on
/// every decision of a real run and on random ones). A field added to a record must be
/// added here too, or those tests fail.
package protocol DirectJSON {
    func writeJSON(_ out: inout JSONOut)
}

extension DecisionRecord: DirectJSON {
    package func writeJSON(_ out: inout JSONOut) {
        out.open()
        out.string("action", action.rawValue)
        out.int("at", at.microsSinceEpoch)
        out.int("budget_after_micros", budgetAfterMicros.rawValue)
        out.int("budget_before_micros", budgetBeforeMicros.rawValue)
        out.string("campaign", campaign.rawValue)
        out.string("config_digest", configDigest)
        out.key("controller")
        controller.writeJSON(&out)
        if let exploration {
            out.key("exploration")
            out.open()
            out.double("density", exploration.density)
            out.double("scale", exploration.scale)
            out.double("shift", exploration.shift)
            out.double("unexplored_micros", exploration.unexploredMicros)
            out.close()
        }
        if let format { out.int("format", Int64(format)) }
        out.bool("halt_flag", haltFlag)
        if let haltRequested { out.bool("halt_requested", haltRequested) }
        out.bool("in_canary_scope", inCanaryScope)
        out.key("layers")
        out.openArray()
        for l in layers { l.writeJSON(&out) }
        out.closeArray()
        out.string("mode", mode.rawValue)
        out.key("observation")
        observation.writeJSON(&out)
        out.key("pacer")
        pacer.writeJSON(&out)
        out.string("policy", policy.description)
        out.string("policy_digest", policyDigest)
        out.bool("policy_fault", policyFault)
        out.key("proposal")
        proposal.writeJSON(&out)
        if let quarantined { out.bool("quarantined", quarantined) }
        if let reason { out.string("reason", reason.rawValue) }
        out.string("slot", slot.rawValue)
        out.uint("tick", tick)
        out.close()
    }
}

extension DecisionRecord.ControllerInput {
    func writeJSON(_ out: inout JSONOut) {
        out.open()
        out.int("account_others_micros", accountOthersMicros.rawValue)
        out.key("anomaly")
        anomaly.writeJSON(&out)
        out.string("campaign_breaker", campaignBreaker.rawValue)
        out.bool("campaign_breaker_permits", campaignBreakerPermits)
        out.int("canary_others_micros", canaryOthersMicros.rawValue)
        if let delivery { out.doubles("delivery", delivery.rates) }
        if let deliveryAsOf { out.int("delivery_as_of", deliveryAsOf.microsSinceEpoch) }
        if let lastChangeAt { out.int("last_change_at", lastChangeAt.microsSinceEpoch) }
        out.key("pacer")
        pacer.writeJSON(&out)
        out.string("platform_breaker", platformBreaker.rawValue)
        out.bool("platform_breaker_permits", platformBreakerPermits)
        out.close()
    }
}

extension AnomalyAssessment {
    func writeJSON(_ out: inout JSONOut) {
        out.open()
        out.key("findings")
        out.openArray()
        for f in findings {
            out.open()
            if let baseline = f.baseline { out.double("baseline", baseline) }
            out.string("check", f.check)
            if let score = f.score { out.double("score", score) }
            out.string("severity", f.severity.name)
            out.double("value", f.value)
            out.close()
        }
        out.closeArray()
        out.string("latest", latest.name)
        out.string("level", level.name)
        out.close()
    }
}

extension PacerState {
    func writeJSON(_ out: inout JSONOut) {
        out.open()
        if let day { out.int("day", day) }
        out.key("efficiency")
        efficiency.writeJSON(&out)
        out.bool("engaged", engaged)
        if let lastStepAt { out.int("last_step_at", lastStepAt.microsSinceEpoch) }
        out.key("pace")
        pace.writeJSON(&out)
        out.close()
    }
}

extension PIDState {
    func writeJSON(_ out: inout JSONOut) {
        out.open()
        out.double("integral", integral)
        if let lastMeasurement { out.double("last_measurement", lastMeasurement) }
        out.close()
    }
}

extension PacerSummary {
    func writeJSON(_ out: inout JSONOut) {
        out.open()
        out.int("band_high_micros", bandHighMicros.rawValue)
        out.int("band_low_micros", bandLowMicros.rawValue)
        if let feedForward { out.double("feed_forward", feedForward) }
        out.int("recommended_budget_micros", recommendedBudgetMicros.rawValue)
        out.int("target_spend_to_date_micros", targetSpendToDateMicros.rawValue)
        out.close()
    }
}

extension Observation {
    func writeJSON(_ out: inout JSONOut) {
        out.open()
        out.string("campaign", campaign.rawValue)
        out.string("currency", currency.code)
        out.int("current_budget_micros", currentBudgetMicros.rawValue)
        out.int("data_age_seconds", dataAgeSeconds)
        out.int("hours_without_conversion", Int64(hoursWithoutConversion))
        if let observedAt { out.int("observed_at", observedAt.microsSinceEpoch) }
        out.int("spend_today_micros", spendTodayMicros.rawValue)
        out.key("trailing")
        out.open()
        out.int("conversion_value_micros", trailing.conversionValueMicros.rawValue)
        out.stat("conversions", trailing.conversions)
        out.int("spend_micros", trailing.spendMicros.rawValue)
        out.close()
        out.close()
    }
}

extension LayerVerdict {
    func writeJSON(_ out: inout JSONOut) {
        out.open()
        if let detail { out.string("detail", detail) }
        if let inMicros { out.int("in_micros", inMicros.rawValue) }
        out.string("layer", layer.rawValue)
        if let outMicros { out.int("out_micros", outMicros.rawValue) }
        if let reason { out.string("reason", reason.rawValue) }
        out.string("verdict", verdict.rawValue)
        out.close()
    }
}

extension Proposal {
    func writeJSON(_ out: inout JSONOut) {
        out.open()
        switch self {
        case .budget(let v): out.stat("budget_micros", v.value)
        case .failed(let e): out.string("error", e)
        }
        out.close()
    }
}
