// Helpers shared by the test targets (a library target, not tests).
import Foundation

/// A fresh directory under the system temp dir, removed when released.
package final class TempDir {
    package let path: String

    package init(_ tag: String = "test") {
        var template = Array("\(NSTemporaryDirectory())/adpilot-\(tag)-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// `<path>/journal`, the journal directory of a state directory.
    package var journal: String { path + "/journal" }
}

/// Reads a pipe to its end, retrying EINTR. (Foundation's readDataToEndOfFile traps on
/// EINTR, which a suite that starts many child processes does see.)
package func readToEnd(_ handle: FileHandle) -> Data {
    var out = Data()
    while true {
        let chunk = readSome(handle)
        if chunk.isEmpty { return out }
        out.append(chunk)
    }
}

/// One read of whatever is available (blocking until something is), retrying EINTR;
/// empty at end of file.
package func readSome(_ handle: FileHandle) -> Data {
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
        if n >= 0 { return Data(buffer[0..<n]) }
        if errno != EINTR { return Data() }
    }
}

/// A finished child process: exit status and what it wrote.
package struct ProcessOutput {
    package let status: Int32
    package let out: String
    package let err: String
}

/// Runs a program to completion, reading stdout and stderr (EINTR-safe). With
/// `mergeStderr` both streams land in `out`.
package func runProcess(_ executable: String, _ arguments: [String], mergeStderr: Bool = false) throws -> ProcessOutput
{
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = mergeStderr ? out : err
    try p.run()
    let o = readToEnd(out.fileHandleForReading)
    let e = mergeStderr ? Data() : readToEnd(err.fileHandleForReading)
    p.waitUntilExit()
    return ProcessOutput(
        status: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
}
