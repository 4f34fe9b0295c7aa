import AdPilotTestSupport
import Foundation
import Synchronization
import Testing
@testable import AdPilotPlatforms

let token = "tok-SECRET-0123456789"

func client(_ config: HTTPClientConfig = HTTPClientConfig(), sleeps: SleepLog) -> HTTPClient {
    var c = config
    c.backoffBaseMillis = 100
    let h = HTTPClient(config: c, secrets: [token])
    h.sleep = { sleeps.record($0) }  // recorded, not slept: the server is real, the waits are not
    return h
}

final class SleepLog: @unchecked Sendable {
    private(set) var millis: [Int] = []
    func record(_ m: Int) { millis.append(m) }
}

func okOn200(_ r: HTTPResponse) -> ResponseVerdict {
    switch r.status {
    case 200: return .ok
    case 429:
        return .retry(
            afterSeconds: r.header("Retry-After").flatMap { Int($0) }, .throttled(retryAfterSeconds: nil, detail: "429")
        )
    case 500...:
        return .retry(
            afterSeconds: nil, .unavailable(detail: "HTTP \(r.status): \(String(decoding: r.body, as: UTF8.self))"))
    default: return .fail(.rejected(code: "\(r.status)", detail: String(decoding: r.body, as: UTF8.self)))
    }
}

@Suite struct HTTPClientTests {
    @Test func retriesAreBoundedWithJitteredBackoff() throws {
        let server = try LoopbackServer { _ in .json("{}", status: 503) }
        defer { server.stop() }
        let sleeps = SleepLog()
        let http = client(sleeps: sleeps)
        #expect(throws: PlatformError.self) {
            try http.send(HTTPRequest(method: "GET", url: server.baseURL + "/x"), classify: okOn200)
        }
        #expect(server.requests.count == 4, "attemptsMax is 4")
        #expect(sleeps.millis.count == 3)
        for (i, m) in sleeps.millis.enumerated() {
            let ceiling = 100 << i
            #expect(
                m >= ceiling / 2 && m <= ceiling,
                "attempt \(i): \(m) ms not within jittered [\(ceiling / 2), \(ceiling)]")
        }
    }

    @Test func retryAfterIsHonouredAndTooLongIsRefused() throws {
        let calls = Atomic<Int>(0)
        let server = try LoopbackServer { _ in
            calls.add(1, ordering: .relaxed).oldValue == 0
                ? .json("{}", status: 429, headers: [("Retry-After", "7")]) : .json("{}")
        }
        defer { server.stop() }
        let sleeps = SleepLog()
        _ = try client(sleeps: sleeps).send(HTTPRequest(method: "GET", url: server.baseURL), classify: okOn200)
        #expect(sleeps.millis == [7_000])

        server.setHandler { _ in LoopbackServer.Response.json("{}", status: 429, headers: [("Retry-After", "3600")]) }
        let longWait = SleepLog()
        #expect(throws: PlatformError.self) {
            try client(sleeps: longWait).send(HTTPRequest(method: "GET", url: server.baseURL), classify: okOn200)
        }
        #expect(longWait.millis.isEmpty, "an hour's wait is an error, not a sleep")
    }

    @Test func clientErrorsAreNotRetried() throws {
        let server = try LoopbackServer { _ in .json(#"{"error":"bad"}"#, status: 400) }
        defer { server.stop() }
        #expect(throws: PlatformError.self) {
            try client(sleeps: SleepLog()).send(HTTPRequest(method: "GET", url: server.baseURL), classify: okOn200)
        }
        #expect(server.requests.count == 1)
    }

    @Test func timeoutsAreTypedAndRetried() throws {
        let server = try LoopbackServer { _ in LoopbackServer.Response(status: 200, delayMillis: 400) }
        defer { server.stop() }
        var config = HTTPClientConfig()
        config.totalTimeoutMillis = 100
        config.attemptsMax = 2
        do {
            _ = try client(config, sleeps: SleepLog()).send(
                HTTPRequest(method: "GET", url: server.baseURL), classify: okOn200)
            Issue.record("no timeout")
        } catch {
            guard case .timeout = error else { Issue.record("\(error)"); return }
        }
        // The server is single-threaded and still sleeping on the first attempt: wait for it
        // to accept the second before counting.
        for _ in 0..<50 where server.requests.count < 2 { usleep(20_000) }
        #expect(server.requests.count == 2)
    }

    @Test func oversizedResponsesAreRefused() throws {
        let server = try LoopbackServer { _ in
            LoopbackServer.Response(status: 200, body: Array(repeating: 0x41, count: 100_000))
        }
        defer { server.stop() }
        var config = HTTPClientConfig()
        config.responseBytesMax = 10_000
        do {
            _ = try client(config, sleeps: SleepLog()).send(
                HTTPRequest(method: "GET", url: server.baseURL), classify: okOn200)
            Issue.record("accepted an oversized response")
        } catch {
            #expect(error.description.contains("larger than 10000 bytes"))
        }
    }

    @Test func redirectsAreNotFollowed() throws {
        let server = try LoopbackServer { r in
            r.path == "/moved"
                ? LoopbackServer.Response(status: 302, headers: [("Location", "/elsewhere")]) : .json("{}")
        }
        defer { server.stop() }
        #expect(throws: PlatformError.rejected(code: "302", detail: "")) {
            try client(sleeps: SleepLog()).send(
                HTTPRequest(method: "GET", url: server.baseURL + "/moved"), classify: okOn200)
        }
        #expect(server.requests.map(\.path) == ["/moved"], "the Location was not followed")
    }

    @Test func secretsNeverAppearInErrors() throws {
        // The server echoes the token back in its error body, as some platforms do.
        let server = try LoopbackServer { r in
            .json(#"{"error":"invalid token \#(r.headers["access-token"] ?? "")"}"#, status: 500)
        }
        defer { server.stop() }
        let http = client(sleeps: SleepLog())
        do {
            _ = try http.send(
                HTTPRequest(method: "GET", url: server.baseURL, headers: [("Access-Token", token)]), classify: okOn200)
        } catch {
            #expect(!error.description.contains(token) && error.description.contains(Redactor.mask), "\(error)")
        }
        #expect(server.requests.first?.headers["access-token"] == token, "the token travels in a header")
        #expect(server.requests.allSatisfy { !$0.path.contains(token) && !$0.query.values.contains(token) })
    }

    @Test func connectionRefusedIsATransportError() throws {
        var config = HTTPClientConfig()
        config.attemptsMax = 1
        do {
            _ = try client(config, sleeps: SleepLog()).send(
                HTTPRequest(method: "GET", url: "http://127.0.0.1:1/"), classify: okOn200)
        } catch {
            guard case .transport = error else { Issue.record("\(error)"); return }
        }
    }

    @Test func jsonKeepsNumbersExact() throws {
        let v = try JSON.parse(
            Array(#"{"budget": 12.34, "n": [1, -0.5e3, "9.99"], "s": "a\"b\u00e9", "t": true, "z": null}"#.utf8))
        #expect(v["budget"]?.decimalMicros == Micros(12_340_000))
        #expect(v["n"]?.array?[2].decimalMicros == Micros(9_990_000))
        #expect(
            v["n"]?.array?[1] == .number("-0.5e3") && v["n"]?.array?[1].decimalMicros == nil,
            "an exponent is not an exact amount")
        #expect(v["s"]?.string == "a\"bé" && v["t"]?.bool == true && v["z"] == .null)
        for bad in [
            "{", "[1,]", "{\"a\" 1}", "01", "\"\u{01}\"", "tru", "1 2",
            String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
        ] {
            #expect(throws: JSON.ParseError.self, "\(bad.prefix(20))") { try JSON.parse(Array(bad.utf8)) }
        }
        #expect(try JSON.parse(Array(v.encoded.utf8)) == v)
    }
}

import AdPilotCore

@Suite struct ReviewRegressionTests {
    @Test(arguments: ["inf", "nan", "-9223372036854775808", "1e400", "-5"])
    func nonsenseRetryHintsFallBackToBackoff(header: String) throws {
        let server = try LoopbackServer { _ in .json("{}", status: 429, headers: [("Retry-After", header)]) }
        defer { server.stop() }
        let sleeps = SleepLog()
        var config = HTTPClientConfig()
        config.attemptsMax = 2
        let tiktokStyle = client(config, sleeps: sleeps)
        #expect(throws: PlatformError.self) {
            try tiktokStyle.send(HTTPRequest(method: "GET", url: server.baseURL), classify: okOn200)
        }
        #expect(
            sleeps.millis.count == 1 && sleeps.millis[0] >= 50 && sleeps.millis[0] <= 100, "\(header): \(sleeps.millis)"
        )
        let shopify = ShopifyRevenue.classify(HTTPResponse(status: 429, headers: [("retry-after", header)], body: []))
        guard case .retry(let after, _) = shopify else { Issue.record("not a retry"); return }
        #expect(after == nil || (after! >= 0 && after! <= 86_400))
    }

    @Test func metaRegainAccessIsClamped() {
        #expect(
            MetaAdapter.regainAccessSeconds(#"{"1":[{"estimated_time_to_regain_access":9223372036854775807}]}"#)
                == 86_400)
        #expect(MetaAdapter.regainAccessSeconds(#"{"1":[{"estimated_time_to_regain_access":-5}]}"#) == 0)
    }

    @Test func redactionSurvivesCombiningMarksAndTruncation() {
        let redact = Redactor(secrets: [token])
        #expect(!redact("x \(token)\u{0301} y").contains(token))
        let http = HTTPClient(secrets: [token])
        let body = String(repeating: "a", count: 480) + token + String(repeating: "b", count: 400)
        let e = http.redacted(.rejected(code: "400", detail: body))
        #expect(!e.description.contains(token) && !e.description.contains(String(token.prefix(8))), "\(e)")
    }

    @Test func shopifyPaginationMustStayUnderTheBasePath() throws {
        for link in [
            "https://acme.myshopify.com.evil.net/admin/x", "https://acme.myshopify.com@evil.net/",
            "https://acme.myshopify.comevil/",
        ] {
            let s = try LoopbackServer { _ in .json(#"{"orders":[]}"#, headers: [("Link", "<\(link)>; rel=\"next\"")]) }
            defer { s.stop() }
            var config = ShopifyConfig(shopDomain: "acme.myshopify.com", currency: .usd)
            config.baseURL = s.baseURL
            let shop = ShopifyRevenue(config: config, token: token)
            #expect(throws: PlatformError.self, "\(link)") {
                try shop.orders(since: Instant(secondsSinceEpoch: 0), until: Instant(secondsSinceEpoch: 1))
            }
        }
    }

    /// Issue 15, item 6: a throttle hint longer than one call may wait holds every request
    /// until it has passed, across calls (ticks); nothing is sent meanwhile.
    @Test func aLongThrottleHintHoldsRequestsAcrossCalls() throws {
        let server = try LoopbackServer { _ in .json("{}", status: 429, headers: [("Retry-After", "300")]) }
        defer { server.stop() }
        var clock: Int64 = 1_000_000
        let h = client(sleeps: SleepLog())
        h.monotonicMillis = { clock }
        let request = HTTPRequest(method: "GET", url: server.baseURL + "/x")
        #expect(throws: PlatformError.self) { try h.send(request, classify: okOn200) }
        #expect(server.requests.count == 1, "a 300 s hint is not waited out inside the call")
        clock += 299_000
        do {
            _ = try h.send(request, classify: okOn200)
            Issue.record("sent while held")
        } catch {
            guard case .held(let s, _) = error else { Issue.record("\(error)"); return }
            #expect(s == 1 && error.scope == .platform)
        }
        #expect(server.requests.count == 1, "nothing was sent while the hint held")
        clock += 1_000
        server.setHandler { _ in .json("{}") }
        #expect((try? h.send(request, classify: okOn200)) != nil)
        #expect(server.requests.count == 2)
    }

    /// Refused credentials back off exponentially (60 s, 120 s, ...), capped at an hour,
    /// instead of being retried every tick; a success clears it.
    @Test func refusedCredentialsBackOffExponentially() throws {
        let server = try LoopbackServer { _ in .json("{}", status: 401) }
        defer { server.stop() }
        var clock: Int64 = 0
        let h = client(sleeps: SleepLog())
        h.monotonicMillis = { clock }
        let request = HTTPRequest(method: "GET", url: server.baseURL + "/x")
        let classify = { (r: HTTPResponse) -> ResponseVerdict in
            r.status == 401 ? .fail(.unauthorized(detail: "HTTP 401")) : okOn200(r)
        }
        var holds: [Int64] = []
        for _ in 0..<8 {
            _ = try? h.send(request, classify: classify)
            let until = try #require(h.hold?.untilMillis)
            holds.append(until - clock)
            clock = until
        }
        #expect(holds == [60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000], "\(holds)")
        #expect(server.requests.count == 8, "one request per hold")
        server.setHandler { _ in .json("{}") }
        _ = try h.send(request, classify: classify)
        #expect(h.hold == nil)
    }
}
