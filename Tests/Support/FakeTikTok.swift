package import AdPilotPlatforms
import Foundation
import Synchronization

/// A fake TikTok Marketing API v1.3 on loopback: ad groups with budgets, the hourly report,
/// and switchable misbehaviour. Behaviours taken from public sources, cited where they
/// are modelled:
/// - [sdk] tiktok/tiktok-business-api-sdk: `yml_files/report_integrated_get.yml` (parameters,
///   `page_size` maximum 1000, `data.list` / `data.page_info`), `tiktok_code.py` (codes 40002
///   PARAM_ERROR, 40100 REQUEST_TOO_FREQUENT, 50002 SYS_TIMEOUT).
/// - [airbyte] airbytehq/airbyte source-tiktok-marketing: `hourly_datetime_based_cursor.py`
///   ("TikTok Marketing API doesn't allow date range more than one day ... 'code': 40002,
///   'message': 'max time span is 1 day when use stat_time_hour'"; start_date == end_date);
///   `BEHAVIOR.md` (metrics are strings, "-" for no data; 40100 inside HTTP 200).
/// - [tap] singer-io/tap-tiktok-ads `client.py`: 50000 and 50002 are retried.
package final class FakeTikTok: Sendable {
    package struct State {
        /// Hourly report rows by `stat_time_hour` ("YYYY-MM-DD HH:MM:SS", advertiser time).
        package var report: [String: String] = [:]
        package var sysTimeoutNext = 0
        /// Per ad group: `secondary_status` and `budget_mode` when not the defaults
        /// (ADGROUP_STATUS_DELIVERY_OK, BUDGET_MODE_DAY).
        package var secondary: [String: String] = [:]
        /// The next budget update is applied, then answered with 50002 SYS_TIMEOUT (or, with
        /// `applied` false, answered so without being applied).
        package var timeoutOnWrite: (pending: Bool, applied: Bool) = (false, false)
        /// Reports generated from the wall clock (UTC) for every ad group asked for: each
        /// completed hour spends a 24th of the budget, the hour in progress its share so far,
        /// and hour 03 reports "-" (no data); conversions follow spend. Off: `report` only.
        package var live = false
        /// Called with each budget write as it arrives (ad group, decimal text), before it is
        /// applied or refused: where a test checks the journal already holds its decision.
        package var onWrite: (@Sendable (String, String) -> Void)? = nil
        /// The double's clock (seconds since the Unix epoch) for `live` reports; nil: the
        /// wall clock.
        package var now: Double? = nil
        /// Every Nth request answered 40100 (throttled), every Mth 50002 (system timeout).
        package var throttleEvery = 0, sysTimeoutEvery = 0
        package var requestsSeen = 0
        /// Report rows served, over every request.
        package var rowsServed = 0
        /// The smallest daily ad group budget accepted (TikTok's help centre: "Ad group
        /// level: Budget must exceed $20"; the API's error for it is not documented publicly,
        /// so a 40002 parameter error is assumed).
        package var minimumBudget: Double = 0
        /// Budget writes applied, in order: (ad group, decimal text as sent).
        package var applied: [(String, String)] = []
        package var budgetMode: [String: String] = [:]
        package var budgets: [String: String] = [:]  // adgroup_id -> decimal text, as TikTok stores it
        package var enabled: [String: Bool] = [:]
        package var throttleNext = 0
        package var failNext = 0
        package var malformedNext = false
        package var ignoreWrites = false
        package var pageSize = 100
    }

    package let state = Mutex(State())
    package let server: LoopbackServer
    /// The access token it accepts (the tests' shared fake token by default).
    package let token: String

    package init(adGroups: Int, budget: String = "100.00", token: String = "tok-SECRET-0123456789") throws {
        self.token = token
        server = try LoopbackServer { _ in .json("{}") }
        state.withLock { s in
            for i in 1...adGroups {
                s.budgets["ag\(i)"] = budget
                s.enabled["ag\(i)"] = true
            }
        }
        server.setHandler { [self] r in self.handle(r) }
    }

    package func envelope(_ data: String, code: Int = 0, message: String = "OK") -> LoopbackServer.Response {
        .json(
            #"{"code":\#(code),"message":"\#(message)","request_id":"req-\#(UUID().uuidString.prefix(8))","#
                + #""data":\#(data)}"#
        )
    }

    package func handle(_ r: LoopbackServer.Request) -> LoopbackServer.Response {
        guard r.headers["access-token"] == token else {
            return envelope("{}", code: 40105, message: "Access token is incorrect")
        }
        return state.withLock { s -> LoopbackServer.Response in
            s.requestsSeen += 1
            if s.throttleEvery > 0 && s.requestsSeen % s.throttleEvery == 0 {
                return envelope("{}", code: 40100, message: "Too many requests")
            }
            if s.sysTimeoutEvery > 0 && s.requestsSeen % s.sysTimeoutEvery == 0 {
                return envelope("{}", code: 50002, message: "System timeout, please retry")
            }
            if s.throttleNext > 0 {
                s.throttleNext -= 1; return envelope("{}", code: 40100, message: "Too many requests")
            }
            if s.failNext > 0 { s.failNext -= 1; return .json("upstream error", status: 503) }
            if s.sysTimeoutNext > 0 {  // [sdk] tiktok_code.py: SYS_TIMEOUT = 50002
                s.sysTimeoutNext -= 1; return envelope("{}", code: 50002, message: "System timeout, please retry")
            }
            if s.malformedNext {
                s.malformedNext = false;
                return .json(#"{"code":0,"message":"OK","data":{"list":[{"adgroup_id":"ag1","budget":"#)
            }
            switch (r.method, r.path) {
            case ("GET", "/open_api/v1.3/adgroup/get/"):
                var ids = s.budgets.keys.sorted { Int($0.dropFirst(2))! < Int($1.dropFirst(2))! }
                if let filtering = r.query["filtering"],
                    let f = try? JSONSerialization.jsonObject(with: Data(filtering.utf8)) as? [String: Any],
                    let wanted = f["adgroup_ids"] as? [String]
                {
                    ids = ids.filter(wanted.contains)
                }
                let page = Int(r.query["page"] ?? "1") ?? 1
                let size = min(s.pageSize, Int(r.query["page_size"] ?? "100") ?? 100)
                let slice = ids.dropFirst((page - 1) * size).prefix(size)
                let items = slice.map {
                    #"{"adgroup_id":"\#($0)","adgroup_name":"Group \#($0)","#
                        + #""budget_mode":"\#(s.budgetMode[$0] ?? "BUDGET_MODE_DAY")","#
                        + #""secondary_status":"\#(s.secondary[$0] ?? "ADGROUP_STATUS_DELIVERY_OK")","#
                        + #""budget":\#(s.budgets[$0]!),"#
                        + #""operation_status":"\#(s.enabled[$0]! ? "ENABLE" : "DISABLE")"}"#
                }
                let totalPages = max(1, (ids.count + size - 1) / size)
                return envelope(
                    #"{"list":[\#(items.joined(separator: ","))],"page_info":{"page":\#(page),"page_size":\#(size),"#
                        + #""total_number":\#(ids.count),"total_page":\#(totalPages)}}"#
                )
            case ("POST", "/open_api/v1.3/adgroup/budget/update/"):
                // The raw body keeps the decimal literal exactly as sent.
                guard let body = try? JSON.parse(r.body), let items = body["budget"]?.array else {
                    return envelope("{}", code: 40002, message: "bad body")
                }
                if s.timeoutOnWrite.pending && !s.timeoutOnWrite.applied {
                    s.timeoutOnWrite.pending = false
                    return envelope("{}", code: 50002, message: "System timeout, please retry")
                }
                for item in items {
                    if let id = item["adgroup_id"]?.string, case .number(let text)? = item["budget"] {
                        s.onWrite?(id, text)
                    }
                }
                for item in items {
                    if case .number(let text)? = item["budget"], (Double(text) ?? 0) <= s.minimumBudget {
                        return envelope("{}", code: 40002, message: "Budget must exceed \(s.minimumBudget)")
                    }
                }
                if !s.ignoreWrites {
                    for item in items {
                        if let id = item["adgroup_id"]?.string, case .number(let text)? = item["budget"] {
                            s.budgets[id] = text
                            s.applied.append((id, text))
                        }
                    }
                }
                if s.timeoutOnWrite.pending {
                    s.timeoutOnWrite.pending = false
                    return envelope("{}", code: 50002, message: "System timeout, please retry")
                }
                return envelope("{}")
            case ("POST", "/open_api/v1.3/adgroup/status/update/"):
                let body = try? JSON.parse(r.body)
                for id in body?["adgroup_ids"]?.array?.compactMap(\.string) ?? [] {
                    s.enabled[id] = body?["operation_status"]?.string == "ENABLE"
                }
                return envelope("{}")
            case ("GET", "/open_api/v1.3/report/integrated/get/"):
                return report(r, &s)
            default:
                return .json("not found", status: 404)
            }
        }
    }

    /// `report/integrated/get` with the `stat_time_hour` dimension: one day per request
    /// ([airbyte] hourly cursor: start_date must equal end_date, else 40002), pages of at
    /// most 1000 rows ([sdk] yml), rows as `{"dimensions":{...},"metrics":{...}}` with string
    /// values ([airbyte] BEHAVIOR.md).
    package func report(_ r: LoopbackServer.Request, _ s: inout State) -> LoopbackServer.Response {
        guard let start = r.query["start_date"], let end = r.query["end_date"] else {
            return envelope("{}", code: 40002, message: "start_date and end_date are required")
        }
        if r.query["dimensions"]?.contains("stat_time_hour") == true && start != end {
            return envelope("{}", code: 40002, message: "max time span is 1 day when use stat_time_hour")
        }
        let size = Int(r.query["page_size"] ?? "10") ?? 10
        guard (1...1000).contains(size) else { return envelope("{}", code: 40002, message: "page_size: max 1000") }
        let page = Int(r.query["page"] ?? "1") ?? 1
        let all: [String]
        let daily = r.query["dimensions"]?.contains("stat_time_day") == true
        if s.live {
            let ids = filtered(r)
            all = daily ? liveDayRows(day: start, adGroups: ids, s) : liveRows(day: start, adGroups: ids, s)
        } else if daily {
            let spend = s.report.keys.filter { $0.hasPrefix(start) }.compactMap {
                (try? JSON.parse(Array(s.report[$0]!.utf8)))?["spend"]?.string.flatMap(Double.init)
            }
            all = spend.isEmpty ? [] : [
                #"{"dimensions":{"adgroup_id":"ag1","stat_time_day":"\#(start) 00:00:00"},"metrics":"#
                    + Self.metrics(spend: String(format: "%.2f", spend.reduce(0, +))) + "}"
            ]
        } else {
            all = s.report.keys.filter { $0.hasPrefix(start) }.sorted().map {
                #"{"dimensions":{"adgroup_id":"ag1","stat_time_hour":"\#($0)"},"metrics":\#(s.report[$0]!)}"#
            }
        }
        let rows = all.dropFirst((page - 1) * size).prefix(size)
        s.rowsServed += rows.count
        let pages = max(1, (all.count + size - 1) / size)
        return envelope(
            #"{"list":[\#(rows.joined(separator: ","))],"page_info":{"page":\#(page),"page_size":\#(size),"#
                + #""total_number":\#(all.count),"total_page":\#(pages)}}"#)
    }

    /// The ad groups a report's `filtering` names (`adgroup_ids` IN [...]).
    func filtered(_ r: LoopbackServer.Request) -> [String] {
        guard let text = r.query["filtering"],
            let list = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]
        else { return [] }
        return list.flatMap { f -> [String] in
            guard f["field_name"] as? String == "adgroup_ids", let v = f["filter_value"] as? String,
                let ids = try? JSONSerialization.jsonObject(with: Data(v.utf8)) as? [String]
            else { return [] }
            return ids
        }
    }

    /// An hour's live spend in cents (nil: not started; -1: the "-" hour), as `live` says.
    func liveCents(budget: Double, hourStart: Double, hour: Int, now: Double) -> Int? {
        guard hourStart < now else { return nil }
        if hour == 3 { return -1 }
        return Int((budget / 24 * min(1, (now - hourStart) / 3_600) * 100).rounded())
    }

    static func liveMetrics(cents: Int) -> String {
        let spend = Double(cents) / 100
        return #"{"spend":"\#(String(format: "%.2f", spend))","impressions":"\#(Int(spend * 40))","#
            + #""clicks":"\#(Int(spend))","conversion":"\#(String(format: "%.1f", spend / 20))","#
            + #""total_purchase_value":"\#(String(format: "%.2f", spend * 3))"}"#
    }

    static func utcDayStart(_ day: String) -> Double? {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd"
        f.timeZone = TimeZone(identifier: "UTC")
        return f.date(from: day)?.timeIntervalSince1970
    }

    /// Hourly rows for `day` (UTC) up to now, as `live` describes.
    func liveRows(day: String, adGroups: [String], _ s: State) -> [String] {
        let now = s.now ?? Date().timeIntervalSince1970
        guard let dayStart = Self.utcDayStart(day) else { return [] }
        var rows: [String] = []
        for id in adGroups {
            let budget = Double(s.budgets[id] ?? "0") ?? 0
            for h in 0..<24 {
                guard let cents = liveCents(budget: budget, hourStart: dayStart + Double(h) * 3_600, hour: h, now: now)
                else { break }
                let metrics =
                    cents < 0
                    ? #"{"spend":"-","impressions":"-","clicks":"-","conversion":"-","total_purchase_value":"-"}"#
                    : Self.liveMetrics(cents: cents)
                let hour = "\(day) \(String(format: "%02d", h)):00:00"
                rows.append(
                    #"{"dimensions":{"adgroup_id":"\#(id)","stat_time_hour":"\#(hour)"},"metrics":\#(metrics)}"#)
            }
        }
        return rows
    }

    /// Daily rows (`stat_time_day`, "YYYY-MM-DD 00:00:00") for `day` (UTC) up to now: each
    /// ad group's hours summed ([airbyte] daily report streams use the same report with
    /// `stat_time_day`). None for an ad group with nothing yet.
    func liveDayRows(day: String, adGroups: [String], _ s: State) -> [String] {
        let now = s.now ?? Date().timeIntervalSince1970
        guard let dayStart = Self.utcDayStart(day), dayStart < now else { return [] }
        return adGroups.map { id in
            let budget = Double(s.budgets[id] ?? "0") ?? 0
            let cents = (0..<24).compactMap {
                liveCents(budget: budget, hourStart: dayStart + Double($0) * 3_600, hour: $0, now: now)
            }.filter { $0 > 0 }.reduce(0, +)
            return #"{"dimensions":{"adgroup_id":"\#(id)","stat_time_day":"\#(day) 00:00:00"},"#
                + #""metrics":\#(Self.liveMetrics(cents: cents))}"#
        }
    }

    package static func metrics(spend: String, conversion: String = "1.5", value: String = "45.60") -> String {
        #"{"spend":"\#(spend)","impressions":"1000","clicks":"25","conversion":"\#(conversion)","#
            + #""total_purchase_value":"\#(value)"}"#
    }
}
