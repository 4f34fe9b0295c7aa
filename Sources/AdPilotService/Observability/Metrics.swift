import AdPilotControl
import AdPilotCore

/// Prometheus text exposition (node_exporter textfile collector), written atomically after
/// every tick. By Prometheus conventions: `_total` only on counters, base units in the name
/// (seconds, micros of the account currency), and every label value a series can take written
/// from the first scrape (at 0), so that `rate()` and alerts have a series from the start.
enum Metrics {
    /// What the status report does not carry.
    struct Context {
        var journalWritable: Bool
        var accountCapMicros: Micros
        /// Real seconds between ticks (the configured tick over the clock's speed).
        var tickIntervalSeconds: Double
        /// Wall-clock seconds since the epoch when the file was rendered.
        var renderedAt: Double
    }

    static func render(_ s: StatusReport, totals: DecisionTotals, _ context: Context) -> String {
        var out = ""
        /// `series`: what follows the name on a sample line (`{label="value"}`, `_bucket{...}`).
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(series: String, value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (series, value) in samples { out += "\(name)\(series) \(value)\n" }
        }
        func flag(_ on: Bool) -> [(series: String, value: String)] { [("", on ? "1" : "0")] }
        metric(
            "adpilot_mode", "gauge", "1 for the controller's current mode.",
            Mode.allCases.map { ("{mode=\"\($0.rawValue)\"}", $0 == s.mode ? "1" : "0") })
        metric("adpilot_halt_flag", "gauge", "1 while the halt flag exists.", flag(s.haltFlag))
        metric(
            "adpilot_journal_writable", "gauge", "0 once a journal write failed (the controller halted).",
            flag(context.journalWritable))
        metric("adpilot_decisions_total", "counter", "Decisions journaled since start.", [("", "\(totals.decisions)")])
        metric(
            "adpilot_applies_total", "counter", "Budget writes confirmed by read-back since start.",
            [("", "\(totals.applies)")])
        metric(
            "adpilot_write_failures_total", "counter", "Budget writes failed or unconfirmed since start.",
            [("", "\(totals.writeFailures)")])
        metric(
            "adpilot_vetoes_total", "counter", "Decisions held by a layer since start, by reason code.",
            ReasonCode.all.map { ("{reason=\"\($0.rawValue)\"}", "\(totals.vetoes[$0.rawValue] ?? 0)") })
        metric(
            "adpilot_breaker_open", "gauge", "1 when the platform breaker does not permit calls.",
            [("{scope=\"platform\"}", s.breakers.platform == .closed ? "0" : "1")])
        metric(
            "adpilot_campaign_breakers", "gauge", "Campaign breakers by state.",
            BreakerState.allCases.map { ("{state=\"\($0.rawValue)\"}", "\(s.breakers.campaigns[$0.rawValue] ?? 0)") })
        metric(
            "adpilot_quarantined_campaigns", "gauge", "Campaigns held by their own critical anomaly.",
            [("", "\(s.quarantined.count)")])
        metric(
            "adpilot_gate_overrides", "gauge", "Promotion gates overridden by an operator, in force in this mode.",
            [("", "\(s.overrides.count)")])
        renderMoney(s, context, metric)
        renderTicks(s, totals, context, metric)
        return out
    }

    private typealias Emit = (String, String, String, [(series: String, value: String)]) -> Void

    private static func renderMoney(_ s: StatusReport, _ context: Context, _ metric: Emit) {
        var spend = Int128(0), budgets = Int128(0)
        for c in s.campaigns {
            spend += Int128(c.spendTodayMicros.rawValue)
            budgets += Int128(c.budgetMicros.rawValue)
        }
        metric(
            "adpilot_spend_today_micros", "gauge", "Spend so far today over all campaigns, in micros.",
            [("", "\(spend)")])
        metric(
            "adpilot_budgets_micros", "gauge",
            "Sum of current daily budgets, in micros (the pace spend is measured against).", [("", "\(budgets)")])
        metric(
            "adpilot_account_daily_cap_micros", "gauge", "The account's daily spend cap (config), in micros.",
            [("", "\(context.accountCapMicros.rawValue)")])
    }

    private static func renderTicks(_ s: StatusReport, _ totals: DecisionTotals, _ context: Context, _ metric: Emit) {
        metric(
            "adpilot_journal_head_seq", "gauge", "Sequence number of the newest journal record.",
            [("", "\(s.journalHeadSeq)")])
        metric(
            "adpilot_ticks_total", "counter", "Ticks run since the state directory was created.", [("", "\(s.ticks)")])
        let h = totals.tickDurations
        metric(
            "adpilot_tick_duration_seconds", "histogram", "Wall time of each tick since start.",
            h.cumulative.map { ("_bucket{le=\"\($0.le)\"}", "\($0.count)") }
                + [("_sum", "\(Double(h.sumMicros) / 1e6)"), ("_count", "\(h.count)")])
        metric(
            "adpilot_tick_interval_seconds", "gauge", "Real seconds between ticks as configured.",
            [("", "\(context.tickIntervalSeconds)")])
        metric(
            "adpilot_metrics_written_timestamp_seconds", "gauge",
            "When this file was written (after a tick), in seconds since the epoch.", [("", "\(context.renderedAt)")])
        metric(
            "adpilot_last_tick_campaigns", "gauge", "Campaigns decided in the last tick.",
            [("", "\(s.lastTick?.campaigns ?? 0)")])
    }
}
