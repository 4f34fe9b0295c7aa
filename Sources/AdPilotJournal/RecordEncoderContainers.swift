import Foundation

/// The `Encoder` a value's `encode(to:)` writes into: it becomes one node of the tree.
final class NodeEncoder: Encoder {
    let owner: RecordEncoder
    var node: RecordEncoder.Node?
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ owner: RecordEncoder) { self.owner = owner }

    func container<K: CodingKey>(keyedBy type: K.Type) -> KeyedEncodingContainer<K> {
        if case .object(let o)? = node { return KeyedEncodingContainer(Keyed(owner: owner, object: o)) }
        let o = RecordEncoder.Object()
        node = .object(o)
        return KeyedEncodingContainer(Keyed(owner: owner, object: o))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array(let a)? = node { return Unkeyed(owner: owner, array: a) }
        let a = RecordEncoder.Array()
        node = .array(a)
        return Unkeyed(owner: owner, array: a)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { Single(encoder: self) }
}

extension RecordEncoder {
    /// Scalars as `JSONEncoder` writes them.
    static func scalar(_ v: Bool) -> Node { .bool(v) }
    static func scalar<I: FixedWidthInteger>(_ v: I) -> Node { .number(String(v)) }
}

struct Keyed<K: CodingKey>: KeyedEncodingContainerProtocol {
    let owner: RecordEncoder
    let object: RecordEncoder.Object
    var codingPath: [any CodingKey] { [] }

    func put(_ node: RecordEncoder.Node, _ key: K) {
        object.members.append((owner.key(key.stringValue), node))
    }

    mutating func encodeNil(forKey key: K) throws { put(.null, key) }
    mutating func encode(_ value: Bool, forKey key: K) throws { put(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: K) throws { put(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: K) throws { put(try RecordEncoder.number(value), key) }
    mutating func encode(_ value: Float, forKey key: K) throws { put(try RecordEncoder.number(value), key) }
    mutating func encode(_ value: Int, forKey key: K) throws { put(RecordEncoder.scalar(value), key) }
    mutating func encode(_ value: Int8, forKey key: K) throws { put(RecordEncoder.scalar(value), key) }
    mutating func encode(_ value: Int16, forKey key: K) throws { put(RecordEncoder.scalar(value), key) }
    mutating func encode(_ value: Int32, forKey key: K) throws { put(RecordEncoder.scalar(value), key) }
    mutating func encode(_ value: Int64, forKey key: K) throws { put(RecordEncoder.scalar(value), key) }
    mutating func encode(_ value: UInt, forKey key: K) throws { put(RecordEncoder.scalar(value), key) }
    mutating func encode(_ value: UInt8, forKey key: K) throws { put(RecordEncoder.scalar(value), key) }
    mutating func encode(_ value: UInt16, forKey key: K) throws { put(RecordEncoder.scalar(value), key) }
    mutating func encode(_ value: UInt32, forKey key: K) throws { put(RecordEncoder.scalar(value), key) }
    mutating func encode(_ value: UInt64, forKey key: K) throws { put(RecordEncoder.scalar(value), key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: K) throws { put(try owner.node(value), key) }

    mutating func nestedContainer<N: CodingKey>(
        keyedBy keyType: N.Type, forKey key: K
    ) -> KeyedEncodingContainer<N> {
        let o = RecordEncoder.Object()
        put(.object(o), key)
        return KeyedEncodingContainer(Keyed<N>(owner: owner, object: o))
    }

    mutating func nestedUnkeyedContainer(forKey key: K) -> any UnkeyedEncodingContainer {
        let a = RecordEncoder.Array()
        put(.array(a), key)
        return Unkeyed(owner: owner, array: a)
    }

    mutating func superEncoder() -> any Encoder { superEncoder(forKey: K(stringValue: "super")!) }

    mutating func superEncoder(forKey key: K) -> any Encoder {
        let e = NodeEncoder(owner)
        put(.deferred(e), key)
        return e
    }
}

struct Unkeyed: UnkeyedEncodingContainer {
    let owner: RecordEncoder
    let array: RecordEncoder.Array
    var codingPath: [any CodingKey] { [] }
    var count: Int { array.items.count }

    func put(_ node: RecordEncoder.Node) { array.items.append(node) }

    mutating func encodeNil() throws { put(.null) }
    mutating func encode(_ value: Bool) throws { put(.bool(value)) }
    mutating func encode(_ value: String) throws { put(.string(value)) }
    mutating func encode(_ value: Double) throws { put(try RecordEncoder.number(value)) }
    mutating func encode(_ value: Float) throws { put(try RecordEncoder.number(value)) }
    mutating func encode(_ value: Int) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode(_ value: Int8) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode(_ value: Int16) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode(_ value: Int32) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode(_ value: Int64) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode(_ value: UInt) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode(_ value: UInt8) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode(_ value: UInt16) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode(_ value: UInt32) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode(_ value: UInt64) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws { put(try owner.node(value)) }

    mutating func nestedContainer<N: CodingKey>(keyedBy keyType: N.Type) -> KeyedEncodingContainer<N> {
        let o = RecordEncoder.Object()
        put(.object(o))
        return KeyedEncodingContainer(Keyed<N>(owner: owner, object: o))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let a = RecordEncoder.Array()
        put(.array(a))
        return Unkeyed(owner: owner, array: a)
    }

    mutating func superEncoder() -> any Encoder {
        let e = NodeEncoder(owner)
        put(.deferred(e))
        return e
    }
}

struct Single: SingleValueEncodingContainer {
    let encoder: NodeEncoder
    var codingPath: [any CodingKey] { [] }

    func put(_ node: RecordEncoder.Node) { encoder.node = node }

    mutating func encodeNil() throws { put(.null) }
    mutating func encode(_ value: Bool) throws { put(.bool(value)) }
    mutating func encode(_ value: String) throws { put(.string(value)) }
    mutating func encode(_ value: Double) throws { put(try RecordEncoder.number(value)) }
    mutating func encode(_ value: Float) throws { put(try RecordEncoder.number(value)) }
    mutating func encode(_ value: Int) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode(_ value: Int8) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode(_ value: Int16) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode(_ value: Int32) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode(_ value: Int64) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode(_ value: UInt) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode(_ value: UInt8) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode(_ value: UInt16) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode(_ value: UInt32) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode(_ value: UInt64) throws { put(RecordEncoder.scalar(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws { put(try encoder.owner.node(value)) }
}
