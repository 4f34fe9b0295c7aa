import AdPilotControl
import AdPilotJournal
import AdPilotCore

/// Prometheus text exposition (node_exporter textfile collector), written atomically
/// after every tick.
enum Metrics {
    static func render(_ s: StatusReport, totals: DecisionTotals) -> String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels.isEmpty ? "" : "{\(labels)}") \(value)\n" }
        }
        metric(
            "adpilot_mode", "gauge", "1 for the controller's current mode.",
            Mode.allCases.map { ("mode=\"\($0.rawValue)\"", $0 == s.mode ? "1" : "0") })
        metric("adpilot_halt_flag", "gauge", "1 while the halt flag exists.", [("", s.haltFlag ? "1" : "0")])
        metric("adpilot_decisions_total", "counter", "Decisions journaled since start.", [("", "\(totals.decisions)")])
        metric(
            "adpilot_applies_total", "counter", "Budget writes confirmed by read-back since start.",
            [("", "\(totals.applies)")])
        metric(
            "adpilot_write_failures_total", "counter", "Budget writes failed or unconfirmed since start.",
            [("", "\(totals.writeFailures)")])
        metric(
            "adpilot_vetoes_total", "counter", "Decisions held by a layer, by reason code.",
            totals.vetoes.sorted { $0.key < $1.key }.map { ("reason=\"\($0.key)\"", "\($0.value)") })
        metric(
            "adpilot_breaker_open", "gauge", "1 when the platform breaker does not permit calls.",
            [("scope=\"platform\"", s.breakers.platform == .closed ? "0" : "1")])
        metric(
            "adpilot_campaign_breakers", "gauge", "Campaign breakers by state.",
            s.breakers.campaigns.sorted { $0.key < $1.key }.map { ("state=\"\($0.key)\"", "\($0.value)") })
        var spend = Int128(0), target = Int128(0)
        for c in s.campaigns { spend += Int128(c.spendTodayMicros.rawValue) }
        for c in s.campaigns { target += Int128(c.budgetMicros.rawValue) }
        metric(
            "adpilot_spend_today_micros", "gauge", "Spend so far today over all campaigns, in micros.",
            [("", "\(spend)")])
        metric(
            "adpilot_budget_total_micros", "gauge",
            "Sum of current daily budgets, in micros (the pace spend is measured against).", [("", "\(target)")])
        metric(
            "adpilot_journal_head_seq", "gauge", "Sequence number of the newest journal record.",
            [("", "\(s.journalHeadSeq)")])
        metric(
            "adpilot_ticks_total", "counter", "Ticks run since the state directory was created.", [("", "\(s.ticks)")])
        if let t = s.lastTick {
            metric(
                "adpilot_last_tick_duration_seconds", "gauge", "Wall time of the last tick.",
                [("", "\(Double(t.durationMicros) / 1e6)")])
            metric(
                "adpilot_last_tick_campaigns", "gauge", "Campaigns decided in the last tick.", [("", "\(t.campaigns)")])
        }
        return out
    }
}
