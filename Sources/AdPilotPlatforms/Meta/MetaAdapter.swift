package import AdPilotCore

/// Meta Marketing API (Graph API), ad sets as campaigns.
package struct MetaConfig: Sendable {
    package var baseURL = "https://graph.facebook.com/v21.0"
    /// The ad account, without the `act_` prefix.
    package var adAccountID: String
    /// The ad account's currency: `daily_budget` is in its minor units (offset 100 for USD,
    /// 1 for JPY; docs/architecture.md).
    package var currency: Currency
    package var utcOffsetSeconds: Int64 = 0
    package var pageSize = 100
    package static let pagesMax = 200

    package init(adAccountID: String, currency: Currency) {
        self.adAccountID = adAccountID
        self.currency = currency
    }
}

package final class MetaAdapter: AdPlatform {
    package let name = "meta"
    package let config: MetaConfig
    package let http: HTTPClient
    /// Each ad set's campaign, from the listing: a batch never holds two of one campaign.
    private var parentCampaign: [CampaignID: String] = [:]
    private let token: String

    /// Error codes Meta uses for rate limiting (inside HTTP 400).
    static let throttleCodes: Set<Int64> = [4, 17, 32, 613, 80000, 80004]
    /// Invalid or expired access token.
    static let authCodes: Set<Int64> = [102, 190]
    /// "API Unknown" (1) and "API Service" (2): temporary, wait and retry (Graph API,
    /// guides/error-handling).
    static let transientCodes: Set<Int64> = [1, 2]

    package init(config: MetaConfig, token: String, httpConfig: HTTPClientConfig = HTTPClientConfig()) {
        self.config = config
        self.token = token
        http = HTTPClient(config: httpConfig, secrets: [token])
    }

    // MARK: Transport

    /// `X-Business-Use-Case-Usage`: `{"<id>":[{"type":"ads_management",...,"estimated_time_to_regain_access":N}]}`,
    /// N in minutes. Returns the longest wait in seconds.
    static func regainAccessSeconds(_ header: String?) -> Int? {
        guard let header, let usage = try? JSON.parse(Array(header.utf8)), case .object(let accounts) = usage else {
            return nil
        }
        let minutes = accounts.flatMap { $0.1.array ?? [] }.compactMap { $0["estimated_time_to_regain_access"]?.int64 }
        // Clamped to a day: nonsense in a header must not overflow (or wait forever).
        return minutes.max().map { Int(min(max($0, 0), 1_440)) * 60 }
    }

    static func classify(_ r: HTTPResponse) -> ResponseVerdict {
        if (200..<300).contains(r.status) { return .ok }
        if r.status >= 500 { return .retry(afterSeconds: nil, .unavailable(detail: "HTTP \(r.status)")) }
        guard let error = (try? JSON.parse(r.body))?["error"], let code = error["code"]?.int64 else {
            return .fail(.malformed(detail: "HTTP \(r.status) without a Graph API error object"))
        }
        let subcode = error["error_subcode"]?.int64.map { "/\($0)" } ?? ""
        // The user-facing title and message say what to change (a budget too low, a
        // campaign that already has the budget); they are kept with the error.
        let explained = [error["error_user_title"]?.string, error["error_user_msg"]?.string].compactMap { $0 }
        let detail =
            "code \(code)\(subcode): \(error["message"]?.string ?? "")"
                + (explained.isEmpty ? "" : " (\(explained.joined(separator: ": ")))")
                + " (fbtrace_id \(error["fbtrace_id"]?.string ?? "?"))"
        if throttleCodes.contains(code) {
            let wait = regainAccessSeconds(r.header("X-Business-Use-Case-Usage"))
            return .retry(afterSeconds: wait, .throttled(retryAfterSeconds: wait, detail: detail))
        }
        if transientCodes.contains(code) { return .retry(afterSeconds: nil, .unavailable(detail: detail)) }
        if authCodes.contains(code) || r.status == 401 { return .fail(.unauthorized(detail: detail)) }
        return .fail(.rejected(code: "\(code)\(subcode)", detail: detail))
    }

    func call(
        _ method: String, _ path: String, query: [(String, String)] = [], form: [(String, String)]? = nil
    ) throws(PlatformError) -> JSON {
        var headers = [("Authorization", "Bearer \(token)")]
        var body: [UInt8]? = nil
        if let form {
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
            body = Array(String(URLQuery.encode(form).dropFirst()).utf8)
        }
        let request = HTTPRequest(
            method: method, url: config.baseURL + path + URLQuery.encode(query), headers: headers, body: body)
        return try http.send(request, resendAmbiguous: method == "GET", classify: Self.classify).json()
    }

    private func adSet(_ item: JSON) throws(PlatformError) -> PlatformCampaign {
        guard let id = item["id"]?.string else { throw .malformed(detail: "ad set without id") }
        // Under Advantage campaign budget the campaign holds the budget and the ad set has
        // none of its own (absent or 0); with a lifetime budget there is no daily one.
        let name = item["name"]?.string ?? id
        let status =
            (item["effective_status"]?.string ?? item["status"]?.string) == "ACTIVE"
            ? PlatformCampaign.Status.active : .paused
        if let lifetime = item["lifetime_budget"]?.int64, lifetime > 0 {
            return PlatformCampaign(
                id: CampaignID(id), name: name, currency: config.currency, dailyBudgetMicros: .zero, status: status,
                notControllable: "a lifetime budget, no daily budget of its own")
        }
        if item["daily_budget"] == nil || item["daily_budget"]?.int64 == 0 {
            return PlatformCampaign(
                id: CampaignID(id), name: name, currency: config.currency, dailyBudgetMicros: .zero, status: status,
                notControllable: "no daily budget of its own: the campaign holds it (Advantage campaign budget)")
        }
        guard let minor = item["daily_budget"]?.int64, minor >= 0 else {
            throw .malformed(
                detail:
                    "ad set \(id): daily_budget \(item["daily_budget"]?.encoded.prefix(30) ?? "missing") is not whole "
                        + "minor units"
            )
        }
        let budget: Micros
        do {
            budget = try config.currency.micros(minorUnits: minor)
        } catch {
            throw .malformed(detail: "ad set \(id): \(error)")
        }
        return PlatformCampaign(
            id: CampaignID(id), name: name, currency: config.currency, dailyBudgetMicros: budget, status: status)
    }

    static let adSetFields = "id,name,campaign_id,daily_budget,lifetime_budget,status,effective_status"

    // MARK: AdPlatform

    package func abandonRetries(when condition: @escaping @Sendable () -> Bool) { http.abandon = condition }

    package func listCampaigns() throws(PlatformError) -> [PlatformCampaign] {
        var out: [PlatformCampaign] = []
        var after: String? = nil
        for _ in 0..<MetaConfig.pagesMax {
            var query = [("fields", Self.adSetFields), ("limit", String(config.pageSize))]
            if let after { query.append(("after", after)) }
            let page = try call("GET", "/act_\(config.adAccountID)/adsets", query: query)
            for item in page["data"]?.array ?? [] {
                out.append(try adSet(item))
                if let id = item["id"]?.string, let parent = item["campaign_id"]?.string {
                    parentCampaign[CampaignID(id)] = parent
                }
            }
            guard page["paging"]?["next"] != nil, let cursor = page["paging"]?["cursors"]?["after"]?.string else {
                return out
            }
            after = cursor
        }
        throw .malformed(detail: "more than \(MetaConfig.pagesMax) pages of ad sets")
    }

    package func campaign(_ id: CampaignID) throws(PlatformError) -> PlatformCampaign {
        let result = Result { () throws(PlatformError) in
            try call("GET", "/\(id.rawValue)", query: [("fields", Self.adSetFields)])
        }
        switch result {
        case .success(let item): return try adSet(item)
        // Code 100: "Unsupported get request".
        case .failure(.rejected(let code, _)) where code == "100" || code.hasPrefix("100/"): throw .notFound(id)
        case .failure(let e): throw e
        }
    }

    private func minorUnits(_ budget: Micros) throws(PlatformError) -> Int64 {
        guard budget > .zero, let minor = try? config.currency.minorUnits(budget) else {
            throw .rejected(
                code: "inexact_budget",
                detail: "\(budget) is not a positive whole number of \(config.currency) minor units")
        }
        return minor
    }

    package func setDailyBudget(campaign id: CampaignID, budgetMicros: Micros) throws(PlatformError) {
        let minor = try minorUnits(budgetMicros)
        let reply = try call("POST", "/\(id.rawValue)", form: [("daily_budget", String(minor))])
        guard reply["success"]?.bool == true else {
            throw .malformed(detail: "budget update of \(id) did not report success")
        }
    }

    package func setStatus(campaign id: CampaignID, _ status: PlatformCampaign.Status) throws(PlatformError) {
        let reply = try call("POST", "/\(id.rawValue)", form: [("status", status == .active ? "ACTIVE" : "PAUSED")])
        guard reply["success"]?.bool == true else {
            throw .malformed(detail: "status update of \(id) did not report success")
        }
    }

    package var budgetBatchMax: Int { Self.batchMax * 4 }
    /// "Batch requests are limited to 50 requests per batch" (graph-api/batch-requests).
    static let batchMax = 50

    /// Budget writes in Graph API batch requests of at most 50, never two ad sets of the
    /// same campaign in one ("Batch requests cannot include multiple Adsets under the same
    /// Campaign": graph-api/batch-requests), as many requests as that takes. Once a halt is
    /// in force (`abandonRetries`), no further request starts: the rest fail with `.held`.
    package func setDailyBudgets(
        _ writes: [(CampaignID, Micros)]
    ) throws(PlatformError) -> [CampaignID: Result<Void, PlatformError>] {
        var results: [CampaignID: Result<Void, PlatformError>] = [:]
        var left = writes
        while !left.isEmpty {
            var round: [(CampaignID, Micros)] = []
            var parents = Set<String>()
            var later: [(CampaignID, Micros)] = []
            for w in left {
                let parent = parentCampaign[w.0] ?? "ad set \(w.0.rawValue)"
                if round.count < Self.batchMax && parents.insert(parent).inserted {
                    round.append(w)
                } else {
                    later.append(w)
                }
            }
            if http.abandon() {
                for (id, _) in left { results[id] = .failure(.held(seconds: 0, after: "a halt came first; not sent")) }
                return results
            }
            results.merge(try sendBatch(round)) { a, _ in a }
            left = later
        }
        return results
    }

    /// One Graph API batch request; each item succeeds or fails on its own (a partial
    /// failure is per-item, never all-or-nothing).
    private func sendBatch(
        _ writes: [(CampaignID, Micros)]
    ) throws(PlatformError) -> [CampaignID: Result<Void, PlatformError>] {
        precondition(writes.count <= 50, "the Graph API takes at most 50 requests per batch")
        precondition(Set(writes.map(\.0)).count == writes.count, "one write per campaign per batch")
        var items: [JSON] = []
        var results: [CampaignID: Result<Void, PlatformError>] = [:]
        var sent: [CampaignID] = []
        for (id, budget) in writes {
            do {
                let minor = try minorUnits(budget)
                items.append(
                    .object([
                        ("method", .string("POST")), ("relative_url", .string(id.rawValue)),
                        ("body", .string("daily_budget=\(minor)")),
                    ]))
                sent.append(id)
            } catch {
                results[id] = .failure(error)
            }
        }
        guard !items.isEmpty else { return results }
        let reply = try call("POST", "/", form: [("batch", JSON.array(items).encoded), ("include_headers", "false")])
        guard let answers = reply.array, answers.count == sent.count else {
            throw .malformed(detail: "batch reply has \(reply.array?.count ?? 0) items for \(sent.count) requests")
        }
        for (id, answer) in zip(sent, answers) {
            // A null item was not executed (the official SDK sends it again): not applied.
            guard case .object = answer else {
                results[id] = .failure(.unavailable(detail: "batch item for \(id) was not executed"))
                continue
            }
            let status = Int(answer["code"]?.int64 ?? 0)
            let body = Array((answer["body"]?.string ?? "").utf8)
            switch Self.classify(HTTPResponse(status: status, headers: [], body: body)) {
            case .ok:
                results[id] =
                    (try? JSON.parse(body))?["success"]?.bool == true
                    ? .success(()) : .failure(.malformed(detail: "batch item for \(id) did not report success"))
            case .retry(_, let e), .fail(let e):
                results[id] = .failure(http.redacted(e))
            }
        }
        return results
    }
}
