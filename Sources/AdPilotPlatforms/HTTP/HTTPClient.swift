internal import CCurl
import AdPilotCore
import AdPilotSystem
internal import Synchronization
#if canImport(Glibc)
import Glibc
#endif

package struct HTTPRequest: Sendable {
    package var method: String
    package var url: String
    /// Header names as sent; secrets go here (never in the URL, where the API allows).
    package var headers: [(String, String)]
    package var body: [UInt8]?

    package init(method: String, url: String, headers: [(String, String)] = [], body: [UInt8]? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

package struct HTTPResponse: Sendable {
    package let status: Int
    /// Header names lowercased.
    package let headers: [(String, String)]
    package let body: [UInt8]

    package func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.last { $0.0 == n }?.1
    }

    package func json() throws(PlatformError) -> JSON {
        do {
            return try JSON.parse(body)
        } catch {
            throw .malformed(detail: "\(error) (HTTP \(status), \(body.count) bytes)")
        }
    }
}

package struct HTTPClientConfig: Sendable {
    package var connectTimeoutMillis = 5_000
    package var totalTimeoutMillis = 30_000
    package var responseBytesMax = 8 << 20
    /// Attempts in all, first included.
    package var attemptsMax = 4
    package var backoffBaseMillis = 500
    package var backoffMaxMillis = 30_000
    /// A server asking us to wait longer than this gets an error instead of a long sleep:
    /// the controller holds budgets and tries again on a later tick.
    package var retryAfterMaxSeconds = 120

    package init() {}
}

/// Replaces every secret in text that leaves the process (errors, logs).
package struct Redactor: Sendable {
    package static let mask = "[REDACTED]"
    private let secrets: [String]

    package init(secrets: [String]) { self.secrets = secrets.filter { $0.count >= 4 } }

    /// Replaces every occurrence, matched on UTF-8 bytes (not Characters, which would let a
    /// combining mark after a token hide it).
    package func callAsFunction(_ text: String) -> String {
        var bytes = Array(text.utf8)
        for secret in secrets {
            let needle = Array(secret.utf8), mask = Array(Redactor.mask.utf8)
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var i = 0
            while i < bytes.count {
                if i + needle.count <= bytes.count && bytes[i..<(i + needle.count)].elementsEqual(needle) {
                    out += mask
                    i += needle.count
                } else {
                    out.append(bytes[i])
                    i += 1
                }
            }
            bytes = out
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// One HTTP exchange over libcurl: TLS verification on, no redirects, http(s) only,
/// connect and total timeouts, and a cap on the response size.
final class CurlTransport: Sendable {
    static let initialized: Bool = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK }()

    final class Sink {
        var body: [UInt8] = []
        var headers: [(String, String)] = []
        var limit: Int
        var overflowed = false
        init(limit: Int) { self.limit = limit }
    }

    func perform(
        _ request: HTTPRequest, _ config: HTTPClientConfig, redact: Redactor
    ) throws(PlatformError) -> HTTPResponse {
        guard CurlTransport.initialized, let h = curl_easy_init() else {
            throw .transport(detail: "libcurl could not start")
        }
        defer { curl_easy_cleanup(h) }
        let sink = Sink(limit: config.responseBytesMax)
        let box = Unmanaged.passUnretained(sink).toOpaque()
        var headers: UnsafeMutablePointer<curl_slist>? = nil
        for (name, value) in request.headers { headers = curl_slist_append(headers, "\(name): \(value)") }
        defer { curl_slist_free_all(headers) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        let code: CURLcode = request.url.withCString { url in
            request.method.withCString { method in
                errorBuffer.withUnsafeMutableBufferPointer { eb in
                    let ok =
                        Self.setRequest(
                            h, url: url, method: method, headers: headers, errorBuffer: eb.baseAddress, config)
                        && Self.setSink(h, box) && Self.setBody(h, request.body)
                    guard ok else { return CURLE_FAILED_INIT }
                    return curl_easy_perform(h)
                }
            }
        }
        if sink.overflowed {
            throw .malformed(
                detail: "response larger than \(config.responseBytesMax) bytes from \(redact(Self.hostOf(request.url)))"
            )
        }
        guard code == CURLE_OK else { throw Self.failure(code, errorBuffer: errorBuffer, request, redact: redact) }
        var status = 0
        _ = adpilot_curl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: sink.headers, body: sink.body)
    }

    /// URL, method, http(s) only, no redirects, TLS verification, timeouts, request headers
    /// and the error buffer. False when libcurl refused an option (the later ones are not set).
    private static func setRequest(
        _ h: UnsafeMutableRawPointer, url: UnsafePointer<CChar>, method: UnsafePointer<CChar>,
        headers: UnsafeMutablePointer<curl_slist>?, errorBuffer: UnsafeMutablePointer<CChar>?,
        _ config: HTTPClientConfig
    ) -> Bool {
        var ok = adpilot_curl_setopt_ptr(h, CURLOPT_URL, url) == CURLE_OK
        ok = ok && adpilot_curl_setopt_ptr(h, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK
        ok = ok && adpilot_curl_setopt_ptr(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK
        ok = ok && adpilot_curl_setopt_long(h, CURLOPT_FOLLOWLOCATION, 0) == CURLE_OK
        ok = ok && adpilot_curl_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 1) == CURLE_OK
        ok = ok && adpilot_curl_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 2) == CURLE_OK
        ok = ok && adpilot_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1) == CURLE_OK
        ok =
            ok
            && adpilot_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, config.connectTimeoutMillis)
                == CURLE_OK
        ok = ok && adpilot_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, config.totalTimeoutMillis) == CURLE_OK
        ok = ok && adpilot_curl_setopt_ptr(h, CURLOPT_HTTPHEADER, headers) == CURLE_OK
        ok = ok && adpilot_curl_setopt_ptr(h, CURLOPT_ERRORBUFFER, errorBuffer) == CURLE_OK
        return ok
    }

    /// Body and headers of the response into the `Sink` behind `box`; the body callback
    /// aborts the transfer past the sink's limit. False when libcurl refused an option.
    private static func setSink(_ h: UnsafeMutableRawPointer, _ box: UnsafeMutableRawPointer) -> Bool {
        var ok =
            adpilot_curl_setopt_write(
                h, CURLOPT_WRITEFUNCTION,
                { data, size, count, user in
                    let sink = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
                    let n = size * count
                    guard sink.body.count + n <= sink.limit else {
                        sink.overflowed = true
                        return 0  // aborts the transfer
                    }
                    sink.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: n))
                    return n
                }) == CURLE_OK
        ok = ok && adpilot_curl_setopt_ptr(h, CURLOPT_WRITEDATA, box) == CURLE_OK
        ok =
            ok
            && adpilot_curl_setopt_write(
                h, CURLOPT_HEADERFUNCTION,
                { data, size, count, user in
                    let sink = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
                    let n = size * count
                    let line = String(
                        decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self)
                    // a new response (e.g. after 100)
                    if line.hasPrefix("HTTP/") { sink.headers.removeAll() }
                    if let colon = line.firstIndex(of: ":"), sink.headers.count < 200 {
                        let name = line[..<colon].lowercased()
                        // "\r\n" is one Character in Swift: trim by isWhitespace, not by "\r".
                        let value = String(
                            line[line.index(after: colon)...].drop(while: \.isWhitespace)
                                .reversed().drop(while: \.isWhitespace).reversed())
                        sink.headers.append((name, value))
                    }
                    return n
                }) == CURLE_OK
        ok = ok && adpilot_curl_setopt_ptr(h, CURLOPT_HEADERDATA, box) == CURLE_OK
        return ok
    }

    /// The request body, copied into libcurl, when there is one. False when libcurl refused it.
    private static func setBody(_ h: UnsafeMutableRawPointer, _ body: [UInt8]?) -> Bool {
        guard let body else { return true }
        var ok = adpilot_curl_setopt_off(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)) == CURLE_OK
        ok =
            ok
            && body.withUnsafeBytes {
                adpilot_curl_setopt_ptr(h, CURLOPT_COPYPOSTFIELDS, $0.baseAddress)
            } == CURLE_OK
        return ok
    }

    /// A failed transfer: libcurl's message (its error buffer, else the code's text), redacted.
    private static func failure(
        _ code: CURLcode, errorBuffer: [CChar], _ request: HTTPRequest, redact: Redactor
    ) -> PlatformError {
        let buffered = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let message = buffered.isEmpty ? String(cString: curl_easy_strerror(code)) : buffered
        let detail = redact("\(request.method) \(Self.hostOf(request.url)): \(message)")
        if code == CURLE_OPERATION_TIMEDOUT { return .timeout(detail: detail) }
        return .transport(detail: detail)
    }

    static func hostOf(_ url: String) -> String {
        let afterScheme = url.firstRange(of: "://").map { url[$0.upperBound...] } ?? url[...]
        return String(afterScheme.prefix { $0 != "/" && $0 != "?" })
    }
}

/// What a platform adapter concludes from a response.
package enum ResponseVerdict: Sendable {
    case ok
    /// Transient: try again after the server's hint, or after backoff when it gave none.
    case retry(afterSeconds: Int?, PlatformError)
    case fail(PlatformError)
}

/// Every platform call goes through here: bounded retries with jittered exponential
/// backoff that honours the server's hints, and redaction of every secret from every
/// error.
package final class HTTPClient {
    package let config: HTTPClientConfig
    package let redact: Redactor
    /// How backoff waits, in milliseconds (real time, in slices that stop early once
    /// `abandon` says so); tests record it.
    package var sleep: ((Int) -> Void)? = nil
    /// Asked before every retry: true gives up and throws the last attempt's error. The
    /// controller answers "halted", so no new request starts after a halt is acknowledged.
    package var abandon: @Sendable () -> Bool = { false }
    /// Monotonic milliseconds, for the hold below (tests move it by hand).
    package var monotonicMillis: () -> Int64 = { AdPilotSystem.monotonicMillis() }
    /// No request goes out before this (monotonic ms), and why: a throttle hint longer than
    /// one call may wait, or backoff after credentials were refused. It outlives the call,
    /// so the next tick does not ask again early.
    package private(set) var hold: (untilMillis: Int64, error: PlatformError)? = nil
    private var authFailures = 0
    /// Credentials refused: wait 60 s, doubling per refusal, at most an hour.
    static let authBackoffMillis: (first: Int64, max: Int64) = (60_000, 3_600_000)
    private var rng: SplitMix64
    private let transport = CurlTransport()

    package init(config: HTTPClientConfig = HTTPClientConfig(), secrets: [String], seed: UInt64 = 0x5EED) {
        self.config = config
        redact = Redactor(secrets: secrets)
        rng = SplitMix64(seed: seed)
    }

    /// Sends `request` until `classify` accepts the response, fails it, or attempts run out.
    /// A write (`resendAmbiguous: false`) is sent again only after an explicit refusal
    /// (throttling): after a 5xx, a timeout or a broken connection it may have been applied,
    /// so the error goes to the caller, who reads back before deciding anything.
    package func send(
        _ request: HTTPRequest, resendAmbiguous: Bool = true, classify: (HTTPResponse) -> ResponseVerdict
    ) throws(PlatformError) -> HTTPResponse {
        if let hold, monotonicMillis() < hold.untilMillis {
            let seconds = Int((hold.untilMillis - monotonicMillis() + 999) / 1_000)
            throw .held(seconds: seconds, after: hold.error.description)
        }
        do {
            let response = try attempts(request, resendAmbiguous: resendAmbiguous, classify: classify)
            hold = nil
            authFailures = 0
            return response
        } catch {
            remember(error)
            throw error
        }
    }

    /// After a call failed: a throttle hint holds every request until it has passed (at
    /// least the backoff ceiling when the platform gave none); refused credentials hold with
    /// exponential backoff. Anything else does not hold.
    private func remember(_ error: PlatformError) {
        let now = monotonicMillis()
        switch error {
        case .throttled(let hint, _):
            let millis = hint.map { Int64(max(0, $0)) * 1_000 } ?? Int64(config.backoffMaxMillis)
            hold = (now + millis, error)
        case .unauthorized:
            authFailures += 1
            let backoff = Self.authBackoffMillis.first << Int64(min(authFailures - 1, 20))
            hold = (now + min(backoff, Self.authBackoffMillis.max), error)
        default:
            break
        }
    }

    private func attempts(
        _ request: HTTPRequest, resendAmbiguous: Bool, classify: (HTTPResponse) -> ResponseVerdict
    ) throws(PlatformError) -> HTTPResponse {
        var last: PlatformError = .transport(detail: "no attempt made")
        for attempt in 0..<config.attemptsMax {
            var hint: Int? = nil  // seconds, from the server; nonsense (negative) is ignored
            switch Result(catching: { () throws(PlatformError) in try transport.perform(request, config, redact: redact)
                })
            {
            case .success(let response):
                switch classify(response) {
                case .ok: return response
                case .fail(let e): throw redacted(e)
                case .retry(let after, let e):
                    last = redacted(e)
                    hint = after.flatMap { $0 >= 0 ? $0 : nil }
                }
            case .failure(let e):
                guard e.isRetryable else { throw redacted(e) }
                last = redacted(e)
            }
            guard attempt + 1 < config.attemptsMax else { break }
            if !resendAmbiguous, !last.isRefusal { throw last }
            if let hint, hint > config.retryAfterMaxSeconds {
                // Waiting that long inside one call would stall the controller: the hold
                // (`remember`) keeps every request back until the hint has passed.
                if case .throttled(_, let d) = last { throw .throttled(retryAfterSeconds: hint, detail: d) }
                throw last
            }
            pause(hint.map { $0 * 1000 } ?? backoffMillis(attempt))
            if abandon() { throw last }
        }
        throw last
    }

    /// Waits `millis` (through `sleep` when a test set it).
    package func pause(_ millis: Int) {
        if let sleep { return sleep(millis) }
        var left = max(0, millis)
        while left > 0 && !abandon() {
            let slice = min(left, 50)
            usleep(UInt32(slice) * 1_000)
            left -= slice
        }
    }

    /// Full jitter (AWS style): uniform in [base * 2^attempt / 2, base * 2^attempt], capped.
    func backoffMillis(_ attempt: Int) -> Int {
        let ceiling = min(Double(config.backoffMaxMillis), Double(config.backoffBaseMillis) * pow(2, Double(attempt)))
        return Int(ceiling * (0.5 + 0.5 * rng.unit()))
    }

    /// Redacts first, then truncates: cutting first could leave half a token behind.
    func redacted(_ e: PlatformError) -> PlatformError {
        let redact = { (s: String) -> String in
            let r = self.redact(s)
            return r.count > 500 ? String(r.prefix(499)) + "…" : r
        }
        switch e {
        case .throttled(let a, let d): return .throttled(retryAfterSeconds: a, detail: redact(d))
        case .unavailable(let d): return .unavailable(detail: redact(d))
        case .timeout(let d): return .timeout(detail: redact(d))
        case .rejected(let c, let d): return .rejected(code: redact(c), detail: redact(d))
        case .unauthorized(let d): return .unauthorized(detail: redact(d))
        case .notFound(let id): return .notFound(id)
        case .malformed(let d): return .malformed(detail: redact(d))
        case .transport(let d): return .transport(detail: redact(d))
        case .held(let s, let after): return .held(seconds: s, after: redact(after))
        }
    }
}
