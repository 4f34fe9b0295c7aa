import AdPilotJournal
import AdPilotSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The CLI's end of the control socket.
package enum ControlClient {
    package enum Failure: Error, CustomStringConvertible {
        /// Nobody answers at the socket (exit 4).
        case unreachable(String)
        /// The socket refused us (exit 5).
        case permissionDenied(String)

        package var description: String {
            switch self {
            case .unreachable(let m), .permissionDenied(let m): return m
            }
        }
    }

    package static func call(
        _ request: ControlRequest, socket path: String, timeoutSeconds: Int = 10
    ) -> Result<ControlResponse, Failure> {
        guard let addr = unixAddress(path) else {
            return .failure(
                .unreachable(
                    "socket path too long (at most 107 bytes): \(path); give a shorter --socket or ADPILOT_SOCKET"))
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(.unreachable("socket: \(String(cString: strerror(errno)))")) }
        defer { close(fd) }
        setTimeouts(fd, seconds: timeoutSeconds)
        var rc: Int32
        repeat { rc = withSockaddr(addr) { connect(fd, $0, $1) } } while rc != 0 && errno == EINTR
        if rc != 0 {
            let e = errno
            let why = String(cString: strerror(e))
            if e == EACCES || e == EPERM {
                return .failure(
                    .permissionDenied(
                        "permission denied on \(path): \(why); you need to be root or in the operators group"))
            }
            return .failure(.unreachable("the daemon is not answering at \(path): \(why)"))
        }
        guard writeAll(fd, RecordCoding.bytes(request) + [UInt8(ascii: "\n")]) else {
            return .failure(.unreachable("cannot send to \(path): \(String(cString: strerror(errno)))"))
        }
        let line = readLine(fd, limit: ControlProtocol.responseBytesMax)
        let timedOut = line == nil && (errno == EAGAIN || errno == EWOULDBLOCK)
        guard let line, !line.isEmpty else {
            let what =
                timedOut
                ? "no answer from the daemon at \(path) within \(timeoutSeconds) s"
                : "the daemon at \(path) closed the connection without a usable answer"
            return .failure(
                .unreachable(
                    what + "; the request was sent and may have taken effect: "
                        + "`adpilotctl status` and `adpilotctl journal tail` show what happened"))
        }
        do {
            return .success(try RecordCoding.decoder().decode(ControlResponse.self, from: Data(line)))
        } catch {
            return .failure(.unreachable("the daemon's answer is not protocol v\(ControlProtocol.version): \(error)"))
        }
    }
}
