import CZlib

/// gzip streams (RFC 1952) through the system's zlib: archived journal segments are
/// written and read with it, and `zcat` reads them too. AdPilot never implements a
/// compression format itself; this is the one place that calls one.
package enum Gzip {
    package struct Failure: Error, CustomStringConvertible, Equatable {
        package let problem: String
        package var description: String { problem }
    }

    static let chunkBytes = 256 << 10

    /// A streaming compressor. The z_stream lives at a fixed address (zlib keeps a pointer
    /// back to it), allocated here and freed on deinit.
    package final class Deflater {
        private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        private var out = [UInt8](repeating: 0, count: Gzip.chunkBytes)

        /// `level` 1 (fastest) ... 9 (smallest).
        package init(level: Int32 = 6) {
            stream.initialize(to: z_stream())
            let status = deflateInit2_(
                stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
                Int32(MemoryLayout<z_stream>.size))
            precondition(status == Z_OK, "zlib deflateInit2 failed: \(status)")
        }

        deinit {
            deflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
        }

        /// Compresses `input`, handing each piece of the gzip stream to `emit`; `finish`
        /// with the last input (possibly empty) ends the stream with its CRC-32 and length.
        package func compress(
            _ input: UnsafeRawBufferPointer, finish: Bool, _ emit: (UnsafeRawBufferPointer) throws -> Void
        ) rethrows {
            stream.pointee.next_in = UnsafeMutablePointer(
                mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = UInt32(input.count)
            while true {
                let (status, produced) = out.withUnsafeMutableBytes { b in
                    stream.pointee.next_out = b.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.pointee.avail_out = UInt32(b.count)
                    let status = deflate(stream, finish ? Z_FINISH : Z_NO_FLUSH)
                    return (status, b.count - Int(stream.pointee.avail_out))
                }
                precondition(
                    status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR, "zlib deflate: \(status)")
                if produced > 0 {
                    try out.withUnsafeBytes { try emit(UnsafeRawBufferPointer(rebasing: $0[..<produced])) }
                }
                if finish ? status == Z_STREAM_END : stream.pointee.avail_in == 0 && produced < out.count { return }
            }
        }
    }

    /// A streaming decompressor of one gzip member, checking its CRC-32 and length at the end.
    package final class Inflater {
        private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        /// Whether the member's end (and its checks) has been reached.
        package private(set) var ended = false

        package init() {
            stream.initialize(to: z_stream())
            let status = inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
            precondition(status == Z_OK, "zlib inflateInit2 failed: \(status)")
        }

        deinit {
            inflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
        }

        /// Decompresses from `input` into `output`; returns the bytes of `input` consumed and
        /// of `output` filled. Throws on a damaged stream, or input after the member's end.
        package func inflate(
            _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
        ) throws(Failure) -> (consumed: Int, produced: Int) {
            if ended {
                guard input.isEmpty else { throw Failure(problem: "bytes after the end of the gzip stream") }
                return (0, 0)
            }
            stream.pointee.next_in = UnsafeMutablePointer(
                mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = UInt32(input.count)
            stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = UInt32(output.count)
            let status = CZlib.inflate(stream, Z_NO_FLUSH)
            let consumed = input.count - Int(stream.pointee.avail_in)
            let produced = output.count - Int(stream.pointee.avail_out)
            switch status {
            case Z_OK, Z_BUF_ERROR: break
            case Z_STREAM_END: ended = true
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "status \(status)"
                throw Failure(problem: "damaged gzip stream: \(message)")
            }
            return (consumed, produced)
        }
    }
}
