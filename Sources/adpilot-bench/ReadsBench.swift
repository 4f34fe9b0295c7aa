// Platform reads per tick: report requests and rows per campaign over a simulated day (26
// hours of 5-minute ticks on a manual clock, across a UTC midnight), against the TikTok and
// Meta doubles on loopback, through the real adapters and controller.
import AdPilotControl
import AdPilotCore
import AdPilotPlatforms
import AdPilotService
import AdPilotSystem
import AdPilotTestSupport
import Foundation

func benchReads(base: String, policiesDir: String, quiet: Log) {
    let campaigns = 40
    do {
        let tiktok = try FakeTikTok(adGroups: campaigns, budget: "100.00")
        defer { tiktok.server.stop() }
        tiktok.state.withLock { $0.live = true }
        var config = TikTokConfig(advertiserID: "7000001", currency: .usd)
        config.baseURL = tiktok.server.baseURL + "/open_api/v1.3"
        let t = try readsDay(
            base: base, policiesDir: policiesDir, quiet: quiet,
            platform: TikTokAdapter(config: config, token: tiktok.token),
            setNow: { now in tiktok.state.withLock { $0.now = now } },
            counts: { (tiktok.state.withLock { $0.rowsServed }, tiktok.server.requests.count) })
        say("platform reads, TikTok double, \(campaigns) ad groups, a day of 5-minute ticks: \(t.describe(campaigns))")
        let meta = try FakeMeta(adSets: campaigns)
        defer { meta.server.stop() }
        meta.state.withLock { $0.live = true }
        var metaConfig = MetaConfig(adAccountID: "1234", currency: .usd)
        metaConfig.baseURL = meta.server.baseURL + "/v21.0"
        let m = try readsDay(
            base: base, policiesDir: policiesDir, quiet: quiet,
            platform: MetaAdapter(config: metaConfig, token: meta.token),
            setNow: { now in meta.state.withLock { $0.now = now } },
            counts: { (meta.state.withLock { $0.rowsServed }, meta.server.requests.count) })
        say("platform reads, Meta double, \(campaigns) ad sets, a day of 5-minute ticks: \(m.describe(campaigns))")
    } catch {
        say("reads bench failed: \(error)")
    }
}

struct ReadsDay {
    /// Per tick: rows served, requests of any kind.
    var ticks: [(rows: Int, requests: Int)] = []

    func describe(_ campaigns: Int) -> String {
        let steady = ticks.dropFirst(12)  // after the first hour
        let rows = Double(steady.map(\.rows).reduce(0, +)) / Double(steady.count * campaigns)
        let requests = Double(steady.map(\.requests).reduce(0, +)) / Double(steady.count)
        let most = Double(steady.map(\.rows).max() ?? 0) / Double(campaigns)
        return String(
            format: "first tick %.1f rows per campaign in %d requests; then %.2f rows per campaign per tick "
                + "(most %.1f, on an hour's first tick) in %.1f requests per tick",
            Double(ticks[0].rows) / Double(campaigns), ticks[0].requests, rows, most, requests)
    }
}

private func readsDay(
    base: String, policiesDir: String, quiet: Log, platform: any AdPlatform, setNow: (Double) -> Void,
    counts: () -> (rows: Int, requests: Int)
) throws -> ReadsDay {
    let dir = tempDirectory(base, "reads")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let clock = ManualClock(Instant(rfc3339: "2026-11-23T21:00:00Z")!)
    let config = try DefaultConfig.demo(
        campaigns: 4, extraPolicyDirs: [policiesDir], overlay: #"{"tick_seconds": 300, "slots": {"live": "pace@1"}}"#)
    let controller = try Controller.start(
        config: config, stateDir: StateDirectory(dir), platform: platform, clock: clock, sealKey: nil, log: quiet)
    defer { controller.shutdown(reason: "bench", log: quiet) }
    var day = ReadsDay()
    for _ in 0..<(26 * 12) {
        clock.advance(seconds: 300)
        setNow(Double(clock.now().microsSinceEpoch) / 1e6)
        let before = counts()
        controller.tick(log: quiet)
        let after = counts()
        day.ticks.append((after.rows - before.rows, after.requests - before.requests))
    }
    return day
}
