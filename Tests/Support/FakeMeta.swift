package import AdPilotPlatforms
import Foundation
import Synchronization

/// A fake Graph API: ad sets with `daily_budget` in minor units, insights, batch, errors.
package final class FakeMeta: Sendable {
    package struct State {
        package var budgets: [String: Int64] = [:]
        package var throttleNext = 0
        package var throttleCode = 17
        /// `estimated_time_to_regain_access`, minutes (marketing-api/overview/rate-limiting).
        package var regainMinutes = 1
        package var rejectInBatch: Set<String> = []
        package var minimumMinor: Int64 = 0
        package var campaignBudget: Set<String> = []
        /// Each ad set's campaign (`campaign_id`); absent: its own.
        package var parent: [String: String] = [:]
        /// Insights generated from the wall clock (UTC): each completed hour spends a 24th of
        /// the ad set's daily budget, the hour in progress its share so far. No `actions`:
        /// an hourly breakdown does not return off-Meta action metrics (insights/breakdowns).
        package var live = false
        /// Called with each budget write as it arrives (ad set, minor units), before it is
        /// applied or refused: where a test checks the journal already holds its decision.
        package var onWrite: (@Sendable (String, Int64) -> Void)? = nil
        /// The double's clock (seconds since the Unix epoch) for `live` insights; nil: the
        /// wall clock.
        package var now: Double? = nil
        /// Insights rows served, over every request.
        package var rowsServed = 0
        /// Budget writes applied, in order: (ad set, minor units).
        package var applied: [(String, Int64)] = []
    }

    package let state = Mutex(State())
    package let server: LoopbackServer
    /// The access token it accepts (the tests' shared fake token by default).
    package let token: String

    package init(adSets: Int, minorUnits: Int64 = 10_000, token: String = "tok-SECRET-0123456789") throws {
        self.token = token
        server = try LoopbackServer { _ in .json("{}") }
        state.withLock { s in for i in 1...adSets { s.budgets["2385\(i)"] = minorUnits } }
        server.setHandler { [self] r in self.handle(r) }
    }

    package static func error(_ code: Int, _ message: String, subcode: Int? = nil) -> String {
        #"{"error":{"message":"\#(message)","type":"OAuthException","#
            + #""code":\#(code)\#(subcode.map { ",\"error_subcode\":\($0)" } ?? ""),"fbtrace_id":"AbCdEf123"}}"#
    }

    package func form(_ body: [UInt8]) -> [String: String] {
        var out: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            out[kv[0]] = kv.count > 1 ? kv[1] : ""
        }
        return out
    }

    package func adSetJSON(_ id: String, _ minor: Int64, _ s: State) -> String {
        // Under Advantage campaign budget the ad set has no daily_budget of its own (the
        // campaign holds it: marketing-api/bidding/guides/advantage-campaign-budget).
        let budget = s.campaignBudget.contains(id) ? "" : #""daily_budget":"\#(minor)","#
        let campaign = s.parent[id] ?? "c\(id)"
        return #"{"id":"\#(id)","name":"Ad set \#(id)","campaign_id":"\#(campaign)",\#(budget)"status":"ACTIVE","#
            + #""effective_status":"ACTIVE"}"#
    }

    package func handle(_ r: LoopbackServer.Request) -> LoopbackServer.Response {
        guard r.headers["authorization"] == "Bearer \(token)" else {
            return .json(Self.error(190, "Invalid OAuth access token."), status: 400)
        }
        return state.withLock { s -> LoopbackServer.Response in
            if s.throttleNext > 0 {
                s.throttleNext -= 1
                let usage =
                    #"{"1234":[{"type":"ads_management","call_count":100,"total_cputime":30,"total_time":30,"#
                        + #""estimated_time_to_regain_access":\#(s.regainMinutes)}]}"#
                return .json(
                    Self.error(s.throttleCode, "User request limit reached", subcode: 2446079), status: 400,
                    headers: [("X-Business-Use-Case-Usage", usage)])
            }
            let ids = s.budgets.keys.sorted()
            switch (r.method, r.path) {
            case ("GET", "/v21.0/act_1234/adsets"):
                let limit = Int(r.query["limit"] ?? "25") ?? 25
                let start = r.query["after"].flatMap { Int($0) } ?? 0
                let page = ids.dropFirst(start).prefix(limit)
                let more = start + limit < ids.count
                let paging =
                    more
                    ? #","paging":{"cursors":{"before":"\#(start)","after":"\#(start + limit)"},"#
                        + #""next":"https://graph.facebook.com/next"}"#
                    : ""
                return .json(
                    #"{"data":[\#(page.map { adSetJSON($0, s.budgets[$0]!, s) }.joined(separator: ","))]\#(paging)}"#)
            case ("POST", "/v21.0/"):
                guard let batch = form(r.body)["batch"], let items = try? JSON.parse(Array(batch.utf8)).array else {
                    return .json(Self.error(100, "Invalid batch"), status: 400)
                }
                // "Batch requests cannot include multiple Adsets under the same Campaign"
                // (graph-api/batch-requests); at most 50 per batch.
                let parents = items.compactMap { $0["relative_url"]?.string }.map { s.parent[$0] ?? "c\($0)" }
                guard Set(parents).count == parents.count, items.count <= 50 else {
                    let message = "Batch requests cannot include multiple Adsets under the same Campaign"
                    return .json(Self.error(100, message), status: 400)
                }
                let answers = items.map { item -> String in
                    let id = item["relative_url"]?.string ?? ""
                    if s.rejectInBatch.contains(id) {
                        return
                            #"{"code":400,"#
                                + #""body":\#(JSON.quote(Self.error(100, "Invalid parameter", subcode: 1885621)))}"#
                    }
                    let minor = Int64(form(Array((item["body"]?.string ?? "").utf8))["daily_budget"] ?? "") ?? 0
                    s.onWrite?(id, minor)
                    s.budgets[id] = minor
                    s.applied.append((id, minor))
                    return #"{"code":200,"body":"{\"success\":true}"}"#
                }
                return .json("[" + answers.joined(separator: ",") + "]")
            case ("GET", "/v21.0/act_1234/insights"):
                return insights(r, &s)
            case ("GET", let p):
                let id = String(p.dropFirst("/v21.0/".count))
                guard let minor = s.budgets[id] else {
                    return .json(Self.error(100, "Unsupported get request", subcode: 33), status: 400)
                }
                return .json(adSetJSON(id, minor, s))
            case ("POST", let p):
                let id = String(p.dropFirst("/v21.0/".count))
                guard s.budgets[id] != nil else {
                    return .json(Self.error(100, "Unsupported post request", subcode: 33), status: 400)
                }
                if let b = form(r.body)["daily_budget"], let minor = Int64(b) {
                    s.onWrite?(id, minor)
                    // A budget under the minimum: code 100, subcode 1885272, with a user
                    // title and message (the subcode and the "must be at least" wording are
                    // quoted from public issue threads and client code; Meta's error object
                    // carries error_user_title / error_user_msg: graph-api/guides/error-handling).
                    if minor < s.minimumMinor {
                        return .json(
                            #"{"error":{"message":"Invalid parameter","type":"OAuthException","code":100,"#
                                + #""error_subcode":1885272,"error_user_title":"Budget Is Too Low","#
                                + #""error_user_msg":"The budget for this ad set must be at least $1.00.","#
                                + #""fbtrace_id":"AbCdEf123"}}"#, status: 400)
                    }
                    s.budgets[id] = minor
                    s.applied.append((id, minor))
                }
                return .json(#"{"success":true}"#)
            default:
                return .json(Self.error(100, "Unknown path"), status: 400)
            }
        }
    }

    /// `GET act_<id>/insights` (marketing-api/insights: the edge on an ad account) at
    /// `level=adset`, for the ad sets its `filtering` names (`{"field":"adset.id","operator":
    /// "IN","value":[...]}`; insights/parameters: `level`, `filtering`, `time_range`,
    /// `time_increment`, `breakdowns`), rows carrying `adset_id`; cursor pages of `limit`
    /// rows with `paging.next` on all but the last (graph-api/results). With
    /// `hourly_stats_aggregated_by_advertiser_time_zone`, a row per hour, without `actions`
    /// when `live` (insights/breakdowns: an hourly breakdown returns no off-Meta action
    /// metrics); without it, a row per day.
    func insights(_ r: LoopbackServer.Request, _ s: inout State) -> LoopbackServer.Response {
        guard r.query["level"] == "adset" else {
            return .json(Self.error(100, "(#100) level must be adset here"), status: 400)
        }
        guard let range = r.query["time_range"],
            let o = try? JSONSerialization.jsonObject(with: Data(range.utf8)) as? [String: String],
            let since = o["since"].flatMap(FakeTikTok.utcDayStart),
            let until = o["until"].flatMap(FakeTikTok.utcDayStart)
        else { return .json(Self.error(100, "time_range required"), status: 400) }
        guard let text = r.query["filtering"],
            let filters = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]],
            let byID = filters.first(where: { $0["field"] as? String == "adset.id" }),
            byID["operator"] as? String == "IN", let ids = byID["value"] as? [String]
        else { return .json(Self.error(100, "(#100) filtering on adset.id required"), status: 400) }
        let hourly = r.query["breakdowns"] == "hourly_stats_aggregated_by_advertiser_time_zone"
        var all: [String] = []
        var day = since
        while day <= until {
            for id in ids {
                all += s.live ? liveRows(id, day: day, hourly: hourly, s) : fixedRows(id, day: day, hourly)
            }
            day += 86_400
        }
        let limit = Int(r.query["limit"] ?? "25") ?? 25
        let start = r.query["after"].flatMap { Int($0) } ?? 0
        let page = all.dropFirst(start).prefix(limit)
        s.rowsServed += page.count
        let paging =
            start + limit < all.count
            ? #","paging":{"cursors":{"before":"\#(start)","after":"\#(start + limit)"},"#
                + #""next":"https://graph.facebook.com/next"}"#
            : #","paging":{"cursors":{"before":"\#(start)","after":"\#(start + page.count)"}}"#
        return .json(#"{"data":[\#(page.joined(separator: ","))]\#(paging)}"#)
    }

    static func date(_ day: Double) -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd"
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date(timeIntervalSince1970: day))
    }

    /// The fixed rows (not `live`): hours 10-12 of 2026-11-23, 12.34 each, two purchases.
    func fixedRows(_ id: String, day: Double, _ hourly: Bool) -> [String] {
        let date = Self.date(day)
        guard date == "2026-11-23" else { return [] }
        let metrics =
            #""spend":"\#(hourly ? "12.34" : "37.02")","impressions":"1000","clicks":"25","actions":["#
            + #"{"action_type":"link_click","value":"25"},{"action_type":"purchase","value":"2"}],"#
            + #""action_values":[{"action_type":"purchase","value":"45.6"}]"#
        guard hourly else {
            return [#"{"adset_id":"\#(id)","date_start":"\#(date)","date_stop":"\#(date)",\#(metrics)}"#]
        }
        return (10..<13).map { h in
            #"{"adset_id":"\#(id)","date_start":"\#(date)","date_stop":"\#(date)","#
                + #""hourly_stats_aggregated_by_advertiser_time_zone":"\#(h):00:00 - \#(h):59:59",\#(metrics)}"#
        }
    }

    /// Live rows for ad set `id` on `day` (UTC) up to now: each completed hour spends a
    /// 24th of its daily budget, the hour in progress its share so far; a day row sums them.
    func liveRows(_ id: String, day: Double, hourly: Bool, _ s: State) -> [String] {
        let now = s.now ?? Date().timeIntervalSince1970
        let date = Self.date(day)
        let perHour = Double(s.budgets[id] ?? 0) / 24
        var rows: [String] = []
        var dayCents = 0
        for h in 0..<24 where day + Double(h) * 3_600 < now {
            let cents = Int((perHour * min(1, (now - day - Double(h) * 3_600) / 3_600)).rounded())
            dayCents += cents
            let hh = String(format: "%02d", h)
            rows.append(
                #"{"adset_id":"\#(id)","date_start":"\#(date)","date_stop":"\#(date)","#
                    + #""hourly_stats_aggregated_by_advertiser_time_zone":"\#(hh):00:00 - \#(hh):59:59","#
                    + #""spend":"\#(String(format: "%.2f", Double(cents) / 100))","impressions":"1000","clicks":"20"}"#)
        }
        guard !hourly else { return rows }
        guard !rows.isEmpty else { return [] }
        return [
            #"{"adset_id":"\#(id)","date_start":"\#(date)","date_stop":"\#(date)","#
                + #""spend":"\#(String(format: "%.2f", Double(dayCents) / 100))","#
                + #""impressions":"\#(1000 * rows.count)","clicks":"\#(20 * rows.count)"}"#
        ]
    }
}
