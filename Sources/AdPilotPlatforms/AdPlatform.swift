package import AdPilotCore

/// A campaign (TikTok ad group, Meta ad set) as a platform reports it.
package struct PlatformCampaign: Hashable, Sendable {
    package enum Status: String, Hashable, Sendable { case active, paused }

    package let id: CampaignID
    package let name: String
    package let currency: Currency
    package let dailyBudgetMicros: Micros
    package let status: Status
    /// Why its own daily budget is not what delivers, when it is not (the budget lives on
    /// the campaign above, the campaign is disabled, a lifetime budget): such a campaign is
    /// observed and counted in the account cap, never decided for or written. Nil when
    /// AdPilot controls it.
    package let notControllable: String?

    package init(
        id: CampaignID, name: String, currency: Currency, dailyBudgetMicros: Micros, status: Status,
        notControllable: String? = nil
    ) {
        self.id = id
        self.name = name
        self.currency = currency
        self.dailyBudgetMicros = dailyBudgetMicros
        self.status = status
        self.notControllable = notControllable
    }
}

/// Hourly metrics for one campaign over a window, and how fresh they are.
package struct MetricsWindow: Sendable {
    package let campaign: CampaignID
    /// Hours, oldest first; the newest may be the hour in progress, with what it has spent
    /// so far (`Observing.completed` tells them apart). Conversions reported late may
    /// still grow.
    package let hours: [HourlyMetrics]
    /// How recent the data is: the end of the newest hour the platform has data for, or
    /// the end of the window when that hour is still in progress.
    package let freshThrough: Instant

    package init(campaign: CampaignID, hours: [HourlyMetrics], freshThrough: Instant) {
        self.campaign = campaign
        self.hours = hours
        self.freshThrough = freshThrough
    }
}

/// An order from the revenue source (Shopify), attributed to a campaign when its landing
/// page carried the campaign's UTM parameters.
package struct Order: Hashable, Sendable {
    package let id: String
    package let createdAt: Instant
    package let totalMicros: Micros
    package let currency: Currency
    package let campaign: CampaignID?
}

/// What went wrong talking to a platform. Every message is already redacted.
package enum PlatformError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The platform asked us to slow down; `retryAfterSeconds` when it said how long.
    case throttled(retryAfterSeconds: Int?, detail: String)
    /// A 5xx or an equivalent transient failure.
    case unavailable(detail: String)
    case timeout(detail: String)
    /// The platform refused the request (4xx other than throttling): not retried.
    case rejected(code: String, detail: String)
    case unauthorized(detail: String)
    case notFound(CampaignID)
    /// The answer made no sense (bad JSON, missing fields, inexact money): fail closed.
    case malformed(detail: String)
    case transport(detail: String)
    /// Not sent: an earlier answer (a throttle hint, refused credentials) holds requests
    /// for `seconds` more.
    case held(seconds: Int, after: String)

    /// Whose failure this is, for the circuit breakers.
    package enum Scope: Sendable { case platform, campaign }

    /// A rejection, an unknown campaign or a nonsensical answer about it concern that
    /// campaign; transport, availability, throttling and credentials concern the platform.
    package var scope: Scope {
        switch self {
        case .throttled, .unavailable, .timeout, .transport, .unauthorized, .held: return .platform
        case .rejected, .notFound, .malformed: return .campaign
        }
    }

    /// The platform said no without acting (throttling): a write may be sent again. After
    /// any other failure it may have been applied.
    package var isRefusal: Bool {
        if case .throttled = self { return true }
        return false
    }

    /// A failure after which a write may or may not have been applied: read back to know.
    package var isAmbiguous: Bool {
        switch self {
        case .unavailable, .timeout, .transport: return true
        case .throttled, .rejected, .unauthorized, .notFound, .malformed, .held: return false
        }
    }

    package var isRetryable: Bool {
        switch self {
        case .throttled, .unavailable, .timeout, .transport: return true
        case .rejected, .unauthorized, .notFound, .malformed, .held: return false
        }
    }

    package var description: String {
        switch self {
        case .throttled(let after, let d): return "throttled\(after.map { " (retry after \($0) s)" } ?? ""): \(d)"
        case .unavailable(let d): return "platform unavailable: \(d)"
        case .timeout(let d): return "timed out: \(d)"
        case .rejected(let code, let d): return "rejected (\(code)): \(d)"
        case .unauthorized(let d): return "unauthorized: \(d); check the platform token credential"
        case .notFound(let id): return "campaign \(id) not found on the platform"
        case .malformed(let d): return "the platform answered nonsense: \(d)"
        case .transport(let d): return "transport error: \(d)"
        case .held(let s, let after):
            return "not calling the platform for \(s) s more, as its last answer asked (\(after))"
        }
    }
}

/// The protocol every platform answers: the embedded simulator, TikTok, Meta.
package protocol AdPlatform: AnyObject {
    var name: String { get }
    func listCampaigns() throws(PlatformError) -> [PlatformCampaign]
    /// Completed hours whose start is in `from..<to`.
    func hourlyMetrics(campaign: CampaignID, from: Instant, to: Instant) throws(PlatformError) -> MetricsWindow
    /// Asks the platform to set a daily budget. Success here is not confirmation: see
    /// `BudgetWrite.apply`, which reads the budget back.
    func setDailyBudget(campaign: CampaignID, budgetMicros: Micros) throws(PlatformError)
    func setStatus(campaign: CampaignID, _ status: PlatformCampaign.Status) throws(PlatformError)
    func campaign(_ id: CampaignID) throws(PlatformError) -> PlatformCampaign
    /// From now on, retries (and backoff waits) stop as soon as `condition` holds: the
    /// controller passes "a halt is in force". Platforms that never retry ignore it.
    func abandonRetries(when condition: @escaping @Sendable () -> Bool)
    /// `hourlyMetrics` for several campaigns, each with its own result: one request for many
    /// where the platform allows it.
    func hourlyMetrics(
        campaigns: [CampaignID], from: Instant, to: Instant
    ) -> [CampaignID: Result<MetricsWindow, PlatformError>]
    /// Each campaign's totals so far in the account's local day that contains `now`, the hour
    /// in progress included, as one report row per campaign (`hour`: the day's first hour).
    /// Nil when the platform does not offer it: the controller then reads hours every tick.
    func todayTotals(campaigns: [CampaignID], now: Instant) -> [CampaignID: Result<HourlyMetrics, PlatformError>]?
    /// How many budget writes `setDailyBudgets` may take at once (1: one at a time).
    var budgetBatchMax: Int { get }
    /// Several budget writes at once, each with its own result. A write not sent because a
    /// halt came first fails with `.held`.
    func setDailyBudgets(
        _ writes: [(CampaignID, Micros)]
    ) throws(PlatformError) -> [CampaignID: Result<Void, PlatformError>]
}

extension AdPlatform {
    package func abandonRetries(when condition: @escaping @Sendable () -> Bool) {}
    package var budgetBatchMax: Int { 1 }

    package func todayTotals(
        campaigns: [CampaignID], now: Instant
    ) -> [CampaignID: Result<HourlyMetrics, PlatformError>]? { nil }

    package func hourlyMetrics(
        campaigns: [CampaignID], from: Instant, to: Instant
    ) -> [CampaignID: Result<MetricsWindow, PlatformError>] {
        var out: [CampaignID: Result<MetricsWindow, PlatformError>] = [:]
        for id in campaigns {
            out[id] = Result { () throws(PlatformError) in try hourlyMetrics(campaign: id, from: from, to: to) }
        }
        return out
    }

    package func setDailyBudgets(
        _ writes: [(CampaignID, Micros)]
    ) throws(PlatformError) -> [CampaignID: Result<Void, PlatformError>] {
        var out: [CampaignID: Result<Void, PlatformError>] = [:]
        for (id, budget) in writes {
            out[id] = Result { () throws(PlatformError) in try setDailyBudget(campaign: id, budgetMicros: budget) }
        }
        return out
    }
}

/// Reads of many campaigns in requests of a bounded size.
package enum PlatformReads {
    /// `read` over `ids` in parts of at most `size`, each campaign with its part's result:
    /// a failed request fails the campaigns it named, and only those.
    package static func inChunks<T>(
        _ ids: [CampaignID], of size: Int, _ read: ([CampaignID]) throws(PlatformError) -> [CampaignID: T]
    ) -> [CampaignID: Result<T, PlatformError>] {
        var out: [CampaignID: Result<T, PlatformError>] = [:]
        for start in stride(from: 0, to: ids.count, by: size) {
            let part = Array(ids[start..<min(ids.count, start + size)])
            do {
                for (id, value) in try read(part) { out[id] = .success(value) }
            } catch {
                for id in part { out[id] = .failure(error) }
            }
        }
        return out
    }
}

/// A source of orders (Shopify, or the simulator's shop).
package protocol RevenueSource: AnyObject {
    func orders(since: Instant, until: Instant) throws(PlatformError) -> [Order]
}

/// The outcome of a budget write, confirmed by reading the budget back.
package enum ApplyOutcome: Equatable, Sendable {
    /// The platform now reports the budget we asked for.
    case confirmed(Micros)
    /// The write "succeeded" but the platform reports another budget: counts as a
    /// circuit-breaker failure.
    case unconfirmed(expected: Micros, reported: Micros)
}

package enum BudgetWrite {
    /// Read-after-write: every budget write is read back and compared. A write whose answer
    /// is ambiguous (a 5xx, a timeout, a broken connection: the adapters never resend those)
    /// is read back too: confirmed if it was applied, else the error stands and the next
    /// tick decides afresh. Nothing is resent blindly.
    package static func apply(
        _ platform: any AdPlatform, campaign: CampaignID, budgetMicros: Micros
    ) throws(PlatformError) -> ApplyOutcome {
        do {
            try platform.setDailyBudget(campaign: campaign, budgetMicros: budgetMicros)
        } catch where error.isAmbiguous {
            guard (try? platform.campaign(campaign).dailyBudgetMicros) == budgetMicros else { throw error }
            return .confirmed(budgetMicros)
        }
        return try readBack(platform, campaign, budgetMicros)
    }

    /// Several writes in one request (`AdPlatform.setDailyBudgets`), each read back as
    /// `apply` reads one back, ambiguous answers included.
    package static func applyBatch(
        _ platform: any AdPlatform, _ writes: [(CampaignID, Micros)]
    ) -> [CampaignID: Result<ApplyOutcome, PlatformError>] {
        let sent: [CampaignID: Result<Void, PlatformError>]
        do {
            sent = try platform.setDailyBudgets(writes)
        } catch {
            sent = Dictionary(writes.map { ($0.0, .failure(error)) }, uniquingKeysWith: { a, _ in a })
        }
        var out: [CampaignID: Result<ApplyOutcome, PlatformError>] = [:]
        for (id, budget) in writes {
            switch sent[id] ?? .failure(.malformed(detail: "no answer for \(id) in the batch")) {
            case .success:
                out[id] = Result { () throws(PlatformError) in try readBack(platform, id, budget) }
            case .failure(let e) where e.isAmbiguous:
                let applied = (try? platform.campaign(id).dailyBudgetMicros) == budget
                out[id] = applied ? .success(.confirmed(budget)) : .failure(e)
            case .failure(let e):
                out[id] = .failure(e)
            }
        }
        return out
    }

    static func readBack(
        _ platform: any AdPlatform, _ id: CampaignID, _ budget: Micros
    ) throws(PlatformError) -> ApplyOutcome {
        let reported = try platform.campaign(id).dailyBudgetMicros
        return reported == budget ? .confirmed(reported) : .unconfirmed(expected: budget, reported: reported)
    }
}
