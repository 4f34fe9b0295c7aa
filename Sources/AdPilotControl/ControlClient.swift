import AdPilotJournal
package import AdPilotSystem
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
        _ request: ControlRequest, socket path: String, timeoutSeconds: Int = 10, sockets: any SocketIO = PosixSockets()
    ) -> Result<ControlResponse, Failure> {
        guard sockets.fits(path) else {
            return .failure(
                .unreachable(
                    "socket path too long (at most 107 bytes): \(path); give a shorter --socket or ADPILOT_SOCKET"))
        }
        let fd: FileDescriptor
        do {
            fd = try sockets.connect(path: path, timeoutSeconds: timeoutSeconds)
        } catch {
            if error.operation == "socket" { return .failure(.unreachable("socket: \(error.message)")) }
            if error.errno == EACCES || error.errno == EPERM {
                return .failure(
                    .permissionDenied(
                        "permission denied on \(path): \(error.message); you need to be root or in the operators "
                            + "group"))
            }
            return .failure(.unreachable("the daemon is not answering at \(path): \(error.message)"))
        }
        defer { sockets.close(fd) }
        do {
            try sockets.writeAll(fd, RecordCoding.bytes(request) + [UInt8(ascii: "\n")])
        } catch {
            return .failure(.unreachable("cannot send to \(path): \(error.message)"))
        }
        let line: [UInt8]
        do {
            line = try sockets.readLine(
                fd, limit: ControlProtocol.responseBytesMax, timeoutMillis: timeoutSeconds * 1_000)
        } catch {
            let timedOut = error.errno == ETIMEDOUT || error.errno == EAGAIN || error.errno == EWOULDBLOCK
            return .failure(noAnswer(path, timedOut: timedOut, timeoutSeconds: timeoutSeconds))
        }
        guard !line.isEmpty else { return .failure(noAnswer(path, timedOut: false, timeoutSeconds: timeoutSeconds)) }
        do {
            return .success(try RecordCoding.decoder().decode(ControlResponse.self, from: Data(line)))
        } catch {
            return .failure(.unreachable("the daemon's answer is not protocol v\(ControlProtocol.version): \(error)"))
        }
    }

    /// The request went out but no usable answer came back: it may have taken effect.
    static func noAnswer(_ path: String, timedOut: Bool, timeoutSeconds: Int) -> Failure {
        let what =
            timedOut
            ? "no answer from the daemon at \(path) within \(timeoutSeconds) s"
            : "the daemon at \(path) closed the connection without a usable answer"
        return .unreachable(
            what + "; the request was sent and may have taken effect: "
                + "`adpilotctl status` and `adpilotctl journal tail` show what happened")
    }
}
