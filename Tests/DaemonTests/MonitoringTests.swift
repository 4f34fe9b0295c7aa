import Foundation
import Testing
import AdPilotTestSupport

/// The metrics textfile, the alert rules and the dashboard, checked with Prometheus' own
/// `promtool` (Debian's `prometheus` package; `make test-deps` installs it) and against the
/// metrics the daemon writes.
@Suite struct MonitoringTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let rules = root + "/docs/monitoring/adpilot-alerts.yml"
    static let dashboard = root + "/docs/monitoring/adpilot-dashboard.json"

    static func promtool(_ arguments: [String], input: String? = nil) throws -> ProcessOutput {
        let path = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        let tool = try #require(path, "promtool is needed: apt-get install prometheus (make test-deps installs it)")
        guard let input else { return try runProcess(tool, arguments, mergeStderr: true) }
        let dir = TempDir("promtool")
        let file = dir.path + "/input"
        try Data(input.utf8).write(to: URL(fileURLWithPath: file))
        return try runProcess("/bin/sh", ["-c", "exec \"$0\" \"$@\" < '\(file)'", tool] + arguments, mergeStderr: true)
    }

    /// Every `adpilot_...` name in a text, with histogram suffixes folded into their family.
    static func metricNames(in text: String) -> Set<String> {
        Set(text.matches(of: #/adpilot_[a-z_]+/#).map { match in
            var name = String(match.output)
            for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
                name = String(name.dropLast(suffix.count))
            }
            return name
        })
    }

    @Test func theDaemonsTextfileFollowsPrometheusConventionsFromTheFirstTick() throws {
        let d = try DaemonUnderTest("metrics")
        try d.start()
        #expect(d.waitForTicks(1) != nil)
        // The status counts a tick as it ends; the daemon writes the textfile just after
        // (and after returning the tick's memory to the kernel): a loaded machine can show
        // the one before the other.
        let path = d.stateDir + "/adpilot.prom"
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: path) && Date() < deadline { usleep(20_000) }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lint = try Self.promtool(["check", "metrics"], input: text)
        #expect(lint.status == 0, "promtool check metrics: \(lint.out)")
        // Every label value from the start, at 0 where nothing happened yet.
        for line in [
            "adpilot_vetoes_total{reason=\"breaker.open\"} 0", "adpilot_campaign_breakers{state=\"open\"} 0",
            "adpilot_campaign_breakers{state=\"half_open\"} 0", "adpilot_mode{mode=\"halted\"} 0",
            "adpilot_journal_writable 1", "adpilot_quarantined_campaigns 0", "adpilot_gate_overrides 0",
            "# TYPE adpilot_tick_duration_seconds histogram", "adpilot_tick_duration_seconds_bucket{le=\"+Inf\"} ",
        ] {
            #expect(text.contains(line), "metrics lack \(line)")
        }
        // No gauge named like a counter.
        for match in text.matches(of: #/# TYPE (\S+) (\S+)/#) where match.output.1.hasSuffix("_total") {
            #expect(match.output.2 == "counter", "\(match.output.1) is a \(match.output.2) named like a counter")
        }
        // The rules and the dashboard use only metrics the daemon writes.
        let written = Self.metricNames(in: text)
        for file in [Self.rules, Self.dashboard] {
            let used = Self.metricNames(in: try String(contentsOfFile: file, encoding: .utf8))
            #expect(!used.isEmpty)
            for name in used.subtracting(written).sorted() {
                Issue.record("\(file) uses \(name), which the daemon does not write")
            }
        }
    }

    @Test func theAlertRulesPassPromtoolAndTheirUnitTests() throws {
        let check = try Self.promtool(["check", "rules", Self.rules])
        #expect(check.status == 0, "\(check.out)")
        let unit = try Self.promtool(["test", "rules", Self.root + "/Tests/monitoring/adpilot-alerts.test.yml"])
        #expect(unit.status == 0 && unit.out.contains("SUCCESS"), "\(unit.out)")
    }

    /// Every alert the rules define is exercised by the unit tests, firing at least once.
    @Test func everyAlertHasATestThatFiresIt() throws {
        let rules = try String(contentsOfFile: Self.rules, encoding: .utf8)
        let tests = try String(contentsOfFile: Self.root + "/Tests/monitoring/adpilot-alerts.test.yml", encoding: .utf8)
        let alerts = rules.matches(of: #/- alert: (\w+)/#).map { String($0.output.1) }
        #expect(alerts.count >= 10)
        let lines = tests.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        for alert in alerts {
            let firing = zip(lines, lines.dropFirst()).contains { $0 == "alertname: \(alert)" && $1 == "exp_alerts:" }
            #expect(firing, "no test in adpilot-alerts.test.yml expects \(alert) to fire")
        }
    }

    /// The dashboard's queries parse: promtool checks them as recording rules, with Grafana's
    /// variables replaced by what Grafana would put there.
    @Test func theDashboardsQueriesParse() throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.dashboard)))
        let panels = try #require((json as? [String: Any])?["panels"] as? [[String: Any]])
        var exprs: [String] = []
        for panel in panels {
            for target in panel["targets"] as? [[String: Any]] ?? [] {
                if let e = target["expr"] as? String { exprs.append(e) }
            }
        }
        #expect(exprs.count >= 15, "\(exprs.count) queries")
        var yaml = "groups:\n  - name: dashboard\n    rules:\n"
        for (i, e) in exprs.enumerated() {
            let concrete = e.replacingOccurrences(of: "$__rate_interval", with: "5m")
                .replacingOccurrences(of: "$instance", with: ".*")
            #expect(!concrete.contains("$"), "an unknown variable in \(e)")
            yaml += "      - record: adpilot_dashboard_query_\(i)\n        expr: '\(concrete)'\n"
        }
        let dir = TempDir("dashboard")
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: dir.path + "/queries.yml"))
        let check = try Self.promtool(["check", "rules", dir.path + "/queries.yml"])
        #expect(check.status == 0, "\(check.out)")
    }
}
