import AdPilotControl
import AdPilotCore
import AdPilotPolicy
import Foundation

/// `adpilotctl policy run NAME@VERSION [--policy-dir DIR]... [--json] < FEATURE_ROWS`: the
/// policy's choice for each row of raw feature values on standard input, exactly as the
/// daemon's runtime computes it, so an ML engineer can check parity with the framework the
/// model was trained in (docs/policies.md#checking-parity-yourself).
enum PolicyRunCommand {
    static func run(_ args: inout Arguments, _ global: GlobalOptions) throws(UsageError) -> ExitCode {
        let json = args.flag("--json")
        let dirs = try PolicyCommands.directories(&args, global)
        let rest = try args.positionals(verb: "policy run")
        guard rest.count == 1, let id = PolicyID(rest[0]) else {
            throw UsageError(message: "policy run needs NAME@VERSION\n\(PolicyCommands.usage)")
        }
        guard let (policy, _) = PolicyCommands.load(id, from: dirs) else { return .checkFailed }
        let runtime = PolicyRuntime(policy)
        let names = policy.manifest.features.map(\.name)
        var out = ""
        var number = 0
        while let line = readLine() {
            number += 1
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("#") || (text.isEmpty && !names.isEmpty) { continue }
            // Commas separate fields (an empty one is an error); spaces and tabs around them do not count.
            let fields = text.contains(",")
                ? text.split(separator: ",", omittingEmptySubsequences: false).map {
                    $0.trimmingCharacters(in: .whitespaces)[...]
                }
                : text.split(whereSeparator: { $0 == " " || $0 == "\t" })
            let row = fields.compactMap { Double($0) }.filter(\.isFinite)
            guard row.count == fields.count, row.count == names.count else {
                Out.raw(Array(out.utf8))
                Out.error(
                    "standard input line \(number): \(fields.count) value(s)"
                        + (row.count == fields.count ? "" : ", not all finite numbers")
                        + (names.isEmpty
                            ? "; \(id) takes no features (an empty line per row)"
                            : "; \(id) takes \(names.count) feature(s) in this order: "
                                + names.joined(separator: ", ")))
                return .checkFailed
            }
            out += render(runtime, row, json: json) + "\n"
            if out.utf8.count > 1 << 16 {
                Out.raw(Array(out.utf8))
                out = ""
            }
        }
        Out.raw(Array(out.utf8))
        return .ok
    }

    /// `ACTION MULTIPLIER [VALUE...]`: the action's index in the manifest's `values` (`-` for
    /// a continuous or rule output), the budget multiplier (`pace` when the policy follows
    /// the pacer), then the network's raw outputs (Q-values) for an MLP.
    static func render(_ runtime: PolicyRuntime, _ row: [Double], json: Bool) -> String {
        let output = row.withUnsafeBufferPointer { runtime.output(features: $0) }
        let values = (runtime.policy.manifest.layers ?? []).isEmpty ? [] : runtime.values(features: row)
        var action: Int?
        var multiplier: Double?
        if case .multiplier(let m) = output {
            multiplier = m
            action = runtime.policy.manifest.action.values?.firstIndex(of: m)
        }
        if json {
            let v = values.map { $0.isFinite ? "\(Double($0))" : "null" }.joined(separator: ",")
            return "{\"action\":\(action.map(String.init) ?? "null"),\"multiplier\":"
                + "\(multiplier.map { "\($0)" } ?? "null"),\"follow_pacer\":\(multiplier == nil),\"values\":[\(v)]}"
        }
        return ([action.map(String.init) ?? "-", multiplier.map { "\($0)" } ?? "pace"] + values.map { "\($0)" })
            .joined(separator: " ")
    }
}
