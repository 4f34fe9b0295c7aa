package import AdPilotCore
package import Foundation
import Synchronization

/// The journal's JSON, several times faster than Foundation's `JSONEncoder` and byte for byte
/// what it writes with `RecordCoding`'s settings (sorted keys, snake_case keys, unescaped
/// slashes; `RecordEncoderTests` holds it to that on every record kind). The speed comes
/// from converting each key once (the conversion is `JSONEncoder`'s own, asked once per key
/// and kept) and from building each object as a small array sorted at the end, instead of
/// a dictionary of boxed values.
///
/// The same `Codable` conformances drive both encoders, so a record's shape has one
/// definition. Not thread-safe: one per thread (they share the key table).
package final class RecordEncoder {
    /// snake_case keys and sorted objects (records); off: keys as declared, objects in the
    /// order encoded (the snapshots, which nothing hashes).
    let forRecords: Bool
    /// Converted keys, quoted and escaped, ready to write: this encoder's copy of the table.
    private var keys: [String: Key]
    /// The buffer decisions are written into, reused record after record.
    private var scratch = JSONOut()

    struct Key {
        /// The key as written, for sorting (JSONEncoder sorts by UTF-8 bytes).
        let sortKey: [UInt8]
        /// `"key":`, escaped.
        let prefix: [UInt8]
    }

    private static let shared = Mutex<[Bool: [String: Key]]>([:])

    package init(forRecords: Bool = true) {
        self.forRecords = forRecords
        keys = Self.shared.withLock { $0[forRecords] ?? [:] }
    }

    /// The JSON of `value`, as `JSONEncoder` would write it.
    package func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        if let direct = value as? any DirectJSON {
            scratch.reset()
            direct.writeJSON(&scratch)
            return scratch.bytes
        }
        let root = try node(value)
        var out: [UInt8] = []
        out.reserveCapacity(4_096)
        write(root, &out)
        return out
    }

    func key(_ name: String) -> Key {
        if let k = keys[name] { return k }
        let written = forRecords ? Self.snakeCase(name) : name
        var prefix: [UInt8] = []
        Self.writeString(written, &prefix)
        prefix.append(UInt8(ascii: ":"))
        let k = Key(sortKey: Swift.Array(written.utf8), prefix: prefix)
        keys[name] = k
        Self.shared.withLock { $0[forRecords, default: [:]][name] = k }
        return k
    }

    /// `JSONEncoder`'s `convertToSnakeCase` of `name`, asked of `JSONEncoder` itself.
    static func snakeCase(_ name: String) -> String {
        struct Probe: Encodable {
            let name: String
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: AnyKey.self)
                try c.encodeNil(forKey: AnyKey(stringValue: name))
            }
        }
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? e.encode(Probe(name: name)),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let key = object.keys.first
        else { preconditionFailure("JSONEncoder does not convert the key \(name)") }
        return key
    }

    // MARK: The tree

    indirect enum Node {
        case null, bool(Bool), number(String), string(String)
        case object(Object), array(Array), deferred(NodeEncoder)
    }

    final class Object {
        var members: [(key: Key, value: Node)] = []
        /// `[String: V]` dictionaries: their keys are data, never converted (as `JSONEncoder`).
        let literalKeys: Bool
        init(literalKeys: Bool = false) { self.literalKeys = literalKeys }
    }

    final class Array {
        var items: [Node] = []
    }

    /// The node for any value: scalars directly, the rest through its `encode(to:)`.
    func node<T: Encodable>(_ value: T) throws -> Node {
        switch value {
        case let v as String: return .string(v)
        case let v as Bool: return .bool(v)
        case let v as Int: return .number(String(v))
        case let v as Int64: return .number(String(v))
        case let v as UInt64: return .number(String(v))
        case let v as Double: return try Self.number(v)
        case let v as any StringKeyedDictionary: return try v.node(self)
        case let v as Data: return .string(v.base64EncodedString())
        case let v as URL: return .string(v.absoluteString)
        case let v as Decimal: return .number(v.description)
        default:
            let encoder = NodeEncoder(self)
            try value.encode(to: encoder)
            return encoder.node ?? .object(Object())
        }
    }

    static func number<F: BinaryFloatingPoint & CustomStringConvertible>(_ v: F) throws -> Node {
        guard v.isFinite else {
            throw EncodingError.invalidValue(v, .init(codingPath: [], debugDescription: "\(v) is not valid JSON"))
        }
        let text = v.description
        return .number(text.hasSuffix(".0") ? String(text.dropLast(2)) : text)
    }

    // MARK: Writing

    func write(_ node: Node, _ out: inout [UInt8]) {
        switch node {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: n.utf8)
        case .string(let s): Self.writeString(s, &out)
        case .deferred(let e): write(e.node ?? .object(Object()), &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, item) in a.items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(item, &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            var members = o.members
            if forRecords || o.literalKeys {
                members.sort { $0.key.sortKey.lexicographicallyPrecedes($1.key.sortKey) }
            }
            out.append(UInt8(ascii: "{"))
            for (i, m) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: m.key.prefix)
                write(m.value, &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// A JSON string as `JSONEncoder` writes it (`JSONOut.quote`).
    static func writeString(_ s: String, _ out: inout [UInt8]) { JSONOut.quote(s, into: &out) }
}

/// A coding key made from a string.
struct AnyKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// `[String: V]`: encoded as an object whose keys are the dictionary's, unconverted.
protocol StringKeyedDictionary {
    func node(_ encoder: RecordEncoder) throws -> RecordEncoder.Node
}

extension Dictionary: StringKeyedDictionary where Key == String, Value: Encodable {
    func node(_ encoder: RecordEncoder) throws -> RecordEncoder.Node {
        let object = RecordEncoder.Object(literalKeys: true)
        for (k, v) in self {
            var prefix: [UInt8] = []
            RecordEncoder.writeString(k, &prefix)
            prefix.append(UInt8(ascii: ":"))
            object.members.append((RecordEncoder.Key(sortKey: Array(k.utf8), prefix: prefix), try encoder.node(v)))
        }
        return .object(object)
    }
}
