package import AdPilotCore
package import AdPilotPlatforms
import Foundation
import AdPilotSystem

/// A platform whose budget writes go over real HTTP (libcurl, the production client with
/// its retries) to a loopback server that holds each request until the test releases it,
/// as a platform that stops answering mid-request does. Reads, and the budget once the
/// server has answered, come from `market`, so the controller's read-back confirms.
package final class HangingWrites: AdPlatform, @unchecked Sendable {
    package let market: any AdPlatform
    package let server: LoopbackServer
    private let http: HTTPClient
    private let holding = Guarded(true)
    private let release = DispatchSemaphore(value: 0)

    package var name: String { market.name }

    package init(_ market: any AdPlatform) throws {
        self.market = market
        http = HTTPClient(secrets: [])
        let (holding, release) = (holding, release)
        server = try LoopbackServer { _ in
            if holding.current { release.wait() }
            return .json("{}")
        }
    }

    /// Requests the server has received (each is a write on the wire, or one that was).
    package var writesReceived: Int { server.requests.count }

    /// Lets the request being held (and the next `count - 1`) answer.
    package func releaseWrites(_ count: Int = 1) { for _ in 0..<count { release.signal() } }

    /// From now on, writes are answered at once.
    package func stopHolding() {
        holding.with { $0 = false }
        releaseWrites(64)
    }

    package func listCampaigns() throws(PlatformError) -> [PlatformCampaign] { try market.listCampaigns() }

    package func hourlyMetrics(campaign: CampaignID, from: Instant, to: Instant) throws(PlatformError)
        -> MetricsWindow
    {
        try market.hourlyMetrics(campaign: campaign, from: from, to: to)
    }

    package func setDailyBudget(campaign: CampaignID, budgetMicros: Micros) throws(PlatformError) {
        let body = Array(#"{"campaign":"\#(campaign)","budget_micros":\#(budgetMicros.rawValue)}"#.utf8)
        _ = try http.send(
            HTTPRequest(method: "POST", url: server.baseURL + "/budget", body: body),
            classify: { $0.status == 200 ? .ok : .retry(afterSeconds: nil, .unavailable(detail: "\($0.status)")) })
        try market.setDailyBudget(campaign: campaign, budgetMicros: budgetMicros)
    }

    package func setStatus(campaign: CampaignID, _ status: PlatformCampaign.Status) throws(PlatformError) {
        try market.setStatus(campaign: campaign, status)
    }

    package func campaign(_ id: CampaignID) throws(PlatformError) -> PlatformCampaign { try market.campaign(id) }

    package func abandonRetries(when condition: @escaping @Sendable () -> Bool) { http.abandon = condition }
}
