// Platform reads per tick: report requests and rows per campaign, against the TikTok double
// (loopback HTTP, live hourly reports), through the real adapter and controller.
import AdPilotControl
import AdPilotCore
import AdPilotPlatforms
import AdPilotService
import AdPilotSystem
import AdPilotTestSupport
import Foundation

func benchReads(base: String, policiesDir: String, quiet: Log) {
    do {
        let campaigns = 40
        let dir = tempDirectory(base, "reads")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fake = try FakeTikTok(adGroups: campaigns, budget: "100.00")
        defer { fake.server.stop() }
        fake.state.withLock { $0.live = true }
        var tiktok = TikTokConfig(advertiserID: "7000001", currency: .usd)
        tiktok.baseURL = fake.server.baseURL + "/open_api/v1.3"
        let config = try benchConfig(campaigns: campaigns, policiesDir: policiesDir)
        let controller = try Controller.start(
            config: config, stateDir: StateDirectory(dir), platform: TikTokAdapter(config: tiktok, token: fake.token),
            clock: SystemClock(), sealKey: nil, log: quiet)
        defer { controller.shutdown(reason: "bench", log: quiet) }
        var perTick: [(requests: Int, rows: Int)] = []
        for _ in 0..<4 {
            let before = (fake.server.requests.count, fake.state.withLock { $0.rowsServed })
            controller.tick(log: quiet)
            let reports = fake.server.requests.dropFirst(before.0).filter {
                $0.path.hasSuffix("/report/integrated/get/")
            }
            perTick.append((reports.count, fake.state.withLock { $0.rowsServed } - before.1))
        }
        func per(_ t: (requests: Int, rows: Int)) -> String {
            String(format: "%d report requests in all, %.1f rows per campaign", t.requests,
                   Double(t.rows) / Double(campaigns))
        }
        let steady = perTick.dropFirst()
        say(
            "platform reads per tick (TikTok double, \(campaigns) ad groups, hour \(utcHour()) UTC): "
                + "first tick \(per(perTick[0])); later ticks \(steady.map(per).joined(separator: " / "))")
    } catch {
        say("reads bench failed: \(error)")
    }
}

private func utcHour() -> Int { Int(Date().timeIntervalSince1970 / 3_600) % 24 }
