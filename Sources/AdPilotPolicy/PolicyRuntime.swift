package import AdPilotCore
#if canImport(Glibc)
import Glibc
#endif

/// What a policy decided for one campaign.
package enum PolicyOutput: Equatable, Sendable {
    /// Propose the current budget times this.
    case multiplier(Double)
    /// Propose the pacer's recommendation (the `pace` baseline).
    case followPacer
}

/// Runs one frozen policy. Weights are laid out once at load (rows padded to whole SIMD8
/// lanes); every call reuses the same buffers, so the hot path allocates nothing. One per
/// thread.
package final class PolicyRuntime {
    package let policy: FrozenPolicy
    private let featureCount: Int
    private let means: [Float]
    private let scales: [Float]  // 1 / std
    private let weights: UnsafeMutableBufferPointer<Float>
    private let activations: UnsafeMutableBufferPointer<Float>
    private struct Layer {
        let inputs, outputs, stride, weightOffset, biasOffset, inOffset, outOffset: Int; let activation: UInt8
    }
    private let layers: [Layer]
    private let rawFeatures: UnsafeMutableBufferPointer<Double>

    static func padded(_ n: Int) -> Int { (n + 7) / 8 * 8 }

    package init(_ policy: FrozenPolicy) {
        self.policy = policy
        featureCount = policy.features.count
        means = policy.manifest.features.map { Float($0.mean) }
        scales = policy.manifest.features.map { Float(1 / $0.std) }
        var layers: [Layer] = []
        var nWeights = 0
        var nActs = Self.padded(policy.features.count)
        var inOffset = 0
        for l in policy.layers {
            let stride = Self.padded(l.spec.inputs)
            let activation: UInt8 = l.spec.activation == "relu" ? 1 : l.spec.activation == "tanh" ? 2 : 0
            layers.append(
                Layer(
                    inputs: l.spec.inputs, outputs: l.spec.outputs, stride: stride, weightOffset: nWeights,
                    biasOffset: nWeights + stride * l.spec.outputs, inOffset: inOffset, outOffset: nActs,
                    activation: activation))
            nWeights += stride * l.spec.outputs + l.spec.outputs
            inOffset = nActs
            nActs += Self.padded(l.spec.outputs)
        }
        self.layers = layers
        weights = .allocate(capacity: max(1, nWeights))
        weights.initialize(repeating: 0)
        for (l, source) in zip(layers, policy.layers) {
            for o in 0..<l.outputs {
                for i in 0..<l.inputs { weights[l.weightOffset + o * l.stride + i] = source.weights[o * l.inputs + i] }
                weights[l.biasOffset + o] = source.bias[o]
            }
        }
        activations = .allocate(capacity: max(8, nActs))
        activations.initialize(repeating: 0)
        rawFeatures = .allocate(capacity: max(1, featureCount))
        rawFeatures.initialize(repeating: 0)
    }

    deinit {
        weights.deallocate()
        activations.deallocate()
        rawFeatures.deallocate()
    }

    // MARK: Entry points

    /// The policy's output for one campaign.
    package func output(_ context: PolicyContext) -> PolicyOutput {
        for (i, f) in policy.features.enumerated() { rawFeatures[i] = f.value(context) }
        return output(features: UnsafeBufferPointer(start: rawFeatures.baseAddress, count: featureCount))
    }

    /// The proposal the decision pipeline takes.
    package func propose(_ context: PolicyContext) -> Proposal {
        switch output(context) {
        case .multiplier(let m): return .micros(context.observation.currentBudgetMicros.statistic * m)
        case .followPacer: return .micros(context.pacer.recommendedBudgetMicros.statistic)
        }
    }

    /// The output for raw (unnormalised) feature values, in the manifest's order.
    package func output(features raw: UnsafeBufferPointer<Double>) -> PolicyOutput {
        precondition(raw.count == featureCount, "\(featureCount) features expected")
        let x = activations.baseAddress!
        for i in 0..<featureCount { x[i] = (Float(raw[i]) - means[i]) * scales[i] }
        let action = policy.manifest.action
        switch policy.manifest.kind {
        case "rule":
            return action.rule == "pace" ? .followPacer : .multiplier(1)
        case "tabular":
            let actions = action.values!.count
            let state = tableState(raw)
            let best = policy.table.withUnsafeBufferPointer {
                argmax(UnsafeBufferPointer(rebasing: $0[(state * actions)..<((state + 1) * actions)]))
            }
            return .multiplier(action.values![best])
        default:
            let out = forward()
            if action.type == "continuous" {
                let lo = action.min!, hi = action.max!
                return .multiplier(lo + (Double(tanh(out[0])) + 1) / 2 * (hi - lo))
            }
            return .multiplier(action.values![argmax(UnsafeBufferPointer(start: out, count: layers.last!.outputs))])
        }
    }

    /// The network's raw outputs (Q-values, or the pre-squash continuous value) for raw
    /// features: for parity checks and `policy inspect`. Allocates; not for the hot path.
    package func values(features raw: [Double]) -> [Float] {
        precondition(raw.count == featureCount && !layers.isEmpty)
        let x = activations.baseAddress!
        for i in 0..<featureCount { x[i] = (Float(raw[i]) - means[i]) * scales[i] }
        return Array(UnsafeBufferPointer(start: forward(), count: layers.last!.outputs))
    }

    /// Outputs for `rows` campaigns at once: `features` holds rows x featureCount raw values.
    package func outputs(batch features: [Double], rows: Int, into out: inout [PolicyOutput]) {
        precondition(features.count == rows * featureCount && out.count >= rows)
        features.withUnsafeBufferPointer { all in
            for r in 0..<rows {
                out[r] = output(
                    features: UnsafeBufferPointer(rebasing: all[(r * featureCount)..<((r + 1) * featureCount)]))
            }
        }
    }

    // MARK: Kernels

    private func forward() -> UnsafeMutablePointer<Float> {
        let w = UnsafeRawPointer(weights.baseAddress!), a = activations.baseAddress!
        for l in layers {
            let x = UnsafeRawPointer(a + l.inOffset), y = a + l.outOffset, bias = weights.baseAddress! + l.biasOffset
            let rowBytes = l.stride * 4
            func finish(_ o: Int, _ acc: SIMD8<Float>) {
                let v = acc.sum() + bias[o]
                y[o] = l.activation == 1 ? max(v, 0) : l.activation == 2 ? tanh(v) : v
            }
            // Four rows at a time: four independent sums keep the core busy and share each
            // load of the input. Every row still adds in the same order, so the outputs are
            // bit for bit those of one row at a time.
            var o = 0
            while o + 4 <= l.outputs {
                var (a0, a1, a2, a3) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
                let row = w + (l.weightOffset + o * l.stride) * 4
                for i in stride(from: 0, to: rowBytes, by: 32) {
                    let xi = x.loadUnaligned(fromByteOffset: i, as: SIMD8<Float>.self)
                    a0 += row.loadUnaligned(fromByteOffset: i, as: SIMD8<Float>.self) * xi
                    a1 += row.loadUnaligned(fromByteOffset: rowBytes + i, as: SIMD8<Float>.self) * xi
                    a2 += row.loadUnaligned(fromByteOffset: 2 * rowBytes + i, as: SIMD8<Float>.self) * xi
                    a3 += row.loadUnaligned(fromByteOffset: 3 * rowBytes + i, as: SIMD8<Float>.self) * xi
                }
                finish(o, a0)
                finish(o + 1, a1)
                finish(o + 2, a2)
                finish(o + 3, a3)
                o += 4
            }
            while o < l.outputs {
                var acc = SIMD8<Float>()
                let row = w + (l.weightOffset + o * l.stride) * 4
                for i in stride(from: 0, to: rowBytes, by: 32) {
                    acc +=
                        row.loadUnaligned(fromByteOffset: i, as: SIMD8<Float>.self)
                        * x.loadUnaligned(fromByteOffset: i, as: SIMD8<Float>.self)
                }
                finish(o, acc)
                o += 1
            }
        }
        return a + layers.last!.outOffset
    }

    /// Row-major state index: per feature, the number of edges at or below its raw value.
    private func tableState(_ raw: UnsafeBufferPointer<Double>) -> Int {
        var state = 0
        for (i, e) in policy.manifest.tabular!.edges.enumerated() {
            var bin = 0
            while bin < e.count && raw[i] >= e[bin] { bin += 1 }
            state = state * (e.count + 1) + bin
        }
        return state
    }

    private func argmax(_ q: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for i in 1..<q.count where q[i] > q[best] { best = i }
        return best
    }
}
