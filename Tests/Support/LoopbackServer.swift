import Foundation
import Synchronization

/// A real HTTP/1.1 server on 127.0.0.1 (ephemeral port) for tests. Each connection gets one
/// request and one response (`Connection: close`). The handler plays the platform.
package final class LoopbackServer: Sendable {
    package struct Request: Sendable {
        package let method: String
        package let path: String
        package let query: [String: String]
        package let headers: [String: String]
        package let body: [UInt8]
        package var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    package struct Response: Sendable {
        package var status: Int
        package var headers: [(String, String)] = []
        package var body: [UInt8] = []
        package var delayMillis = 0

        package init(status: Int, headers: [(String, String)] = [], body: [UInt8] = [], delayMillis: Int = 0) {
            self.status = status
            self.headers = headers
            self.body = body
            self.delayMillis = delayMillis
        }

        package static func json(_ text: String, status: Int = 200, headers: [(String, String)] = []) -> Response {
            Response(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(text.utf8))
        }
    }

    package let port: UInt16
    private let listener: Int32
    private let handler: Mutex<@Sendable (Request) -> Response>
    private let log = Mutex<[Request]>([])
    private let stopped = Atomic<Bool>(false)

    package var baseURL: String { "http://127.0.0.1:\(port)" }
    package var requests: [Request] { log.withLock { $0 } }

    package init(_ handler: @escaping @Sendable (Request) -> Response) throws {
        self.handler = Mutex(handler)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 64) == 0 else { throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        port = UInt16(bigEndian: addr.sin_port)
        listener = fd
        let thread = Thread { [self] in self.serve() }
        thread.start()
    }

    package func setHandler(_ h: @escaping @Sendable (Request) -> Response) { handler.withLock { $0 = h } }

    /// Wakes the accept loop; the serving thread closes the socket itself. Closing it here
    /// would free the descriptor number while the thread still sits in accept(), and the
    /// next server to get that number would have its connections stolen.
    package func stop() {
        stopped.store(true, ordering: .sequentiallyConsistent)
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private func serve() {
        defer { close(listener) }
        while !stopped.load(ordering: .sequentiallyConsistent) {
            let conn = accept(listener, nil, nil)
            if conn < 0 { return }
            if stopped.load(ordering: .sequentiallyConsistent) {
                close(conn)
                return
            }
            handle(conn)
            close(conn)
        }
    }

    private func handle(_ conn: Int32) {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var headerEnd: Int? = nil
        while headerEnd == nil {
            let n = read(conn, &chunk, chunk.count)
            if n <= 0 { return }
            buffer += chunk[0..<n]
            headerEnd = buffer.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound
        }
        let head = String(decoding: buffer[..<headerEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = head[0].split(separator: " ")
        guard requestLine.count >= 2 else { return }
        var headers: [String: String] = [:]
        for line in head.dropFirst() where line.contains(":") {
            let i = line.firstIndex(of: ":")!
            headers[line[..<i].lowercased()] = line[line.index(after: i)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while buffer.count - headerEnd! < length {
            let n = read(conn, &chunk, chunk.count)
            if n <= 0 { return }
            buffer += chunk[0..<n]
        }
        let target = String(requestLine[1])
        let parts = target.split(separator: "?", maxSplits: 1)
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map {
                    String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
                }
                query[kv[0]] = kv.count > 1 ? kv[1] : ""
            }
        }
        let request = Request(
            method: String(requestLine[0]), path: String(parts[0]), query: query, headers: headers,
            body: Array(buffer[headerEnd!..<(headerEnd! + length)]))
        log.withLock { $0.append(request) }
        let response = handler.withLock { $0 }(request)
        if response.delayMillis > 0 { usleep(UInt32(response.delayMillis) * 1000) }
        var out = "HTTP/1.1 \(response.status) X\r\nContent-Length: \(response.body.count)\r\nConnection: close\r\n"
        for (k, v) in response.headers { out += "\(k): \(v)\r\n" }
        out += "\r\n"
        let bytes = Array(out.utf8) + response.body
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(conn, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            sent += n
        }
    }
}
