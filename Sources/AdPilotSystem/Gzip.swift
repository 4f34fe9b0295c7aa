import CZlib
#if canImport(Glibc)
import Glibc
#endif

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
        private let header = UnsafeMutablePointer<gz_header>.allocate(capacity: 1)
        private var comment: UnsafeMutablePointer<CChar>? = nil
        private var out = [UInt8](repeating: 0, count: Gzip.chunkBytes)

        /// `level` 1 (fastest) ... 9 (smallest); `comment`, ASCII, goes in the header's FCOMMENT
        /// field, which a header CRC then covers.
        package init(level: Int32 = 6, comment text: String? = nil) {
            stream.initialize(to: z_stream())
            header.initialize(to: gz_header())
            let status = deflateInit2_(
                stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
                Int32(MemoryLayout<z_stream>.size))
            precondition(status == Z_OK, "zlib deflateInit2 failed: \(status)")
            if let text {
                comment = strdup(text)
                header.pointee.comment = UnsafeMutableRawPointer(comment)?.assumingMemoryBound(to: Bytef.self)
                header.pointee.hcrc = 1
                header.pointee.os = 3  // Unix
                precondition(deflateSetHeader(stream, header) == Z_OK, "zlib deflateSetHeader failed")
            }
        }

        deinit {
            deflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
            header.deinitialize(count: 1)
            header.deallocate()
            free(comment)
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

    /// The FCOMMENT of the gzip stream that starts with `bytes` (its header must lie within
    /// them), nil when there is none or the header is damaged (its CRC, when present, is
    /// checked).
    package static func comment(ofStreamStartingWith bytes: UnsafeRawBufferPointer) -> String? {
        let inflater = Inflater(commentBytesMax: 1_024)
        var out = [UInt8](repeating: 0, count: 4_096)
        var offset = 0
        while !inflater.headerDone && offset < bytes.count {
            guard let (consumed, _) = try? out.withUnsafeMutableBytes({
                try inflater.inflate(UnsafeRawBufferPointer(rebasing: bytes[offset...]), into: $0)
            }), consumed > 0 || inflater.headerDone else { return nil }
            offset += consumed
        }
        return inflater.headerComment
    }

    /// A streaming decompressor of one gzip member, checking its CRC-32 and length at the end.
    package final class Inflater {
        private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        /// The header as read, when its comment was asked for (zlib fills it in as it goes).
        private let header: UnsafeMutablePointer<gz_header>?
        private let comment: UnsafeMutableBufferPointer<UInt8>
        /// Whether the member's end (and its checks) has been reached.
        package private(set) var ended = false

        /// `commentBytesMax` above 0 keeps the header's FCOMMENT, up to that many bytes.
        package init(commentBytesMax: Int = 0) {
            stream.initialize(to: z_stream())
            comment = .allocate(capacity: commentBytesMax + 1)
            comment.initialize(repeating: 0)
            header = commentBytesMax > 0 ? .allocate(capacity: 1) : nil
            let status = inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
            precondition(status == Z_OK, "zlib inflateInit2 failed: \(status)")
            if let header {
                header.initialize(to: gz_header())
                header.pointee.comment = comment.baseAddress
                header.pointee.comm_max = UInt32(commentBytesMax)
                precondition(inflateGetHeader(stream, header) == Z_OK, "zlib inflateGetHeader failed")
            }
        }

        deinit {
            inflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
            header?.deinitialize(count: 1)
            header?.deallocate()
            comment.deallocate()
        }

        /// Whether the whole header has been read (always false unless its comment was asked for).
        package var headerDone: Bool { header.map { $0.pointee.done == 1 } ?? false }

        /// The header's FCOMMENT once the header is read; nil without one.
        package var headerComment: String? {
            guard let header, header.pointee.done == 1, header.pointee.comment != nil else { return nil }
            return String(decoding: comment.prefix { $0 != 0 }, as: UTF8.self)
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
