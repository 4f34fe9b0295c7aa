/// Gains and limits of one PID loop. Errors are dimensionless (normalised by a scale the
/// caller gives), and so is the output.
package struct PIDGains: Hashable, Sendable, Codable {
    package var kp: Double
    package var ki: Double
    package var kd: Double
    /// |integral term| never exceeds this (anti-windup, first half).
    package var integralMax: Double
    package var outputMin: Double
    package var outputMax: Double

    package init(kp: Double, ki: Double, kd: Double, integralMax: Double, outputMin: Double, outputMax: Double) {
        self.kp = kp
        self.ki = ki
        self.kd = kd
        self.integralMax = integralMax
        self.outputMin = outputMin
        self.outputMax = outputMax
    }

    package var isValid: Bool {
        [kp, ki, kd, integralMax, outputMin, outputMax].allSatisfy(\.isFinite)
            && kp >= 0 && ki >= 0 && kd >= 0 && integralMax >= 0 && outputMin < outputMax
    }
}

/// Direct acting: the output rises when the measurement is below the setpoint (pacing:
/// underspending raises the budget). Reverse acting: the output rises when the
/// measurement is above it (ROAS above target earns more budget).
package enum PIDAction: String, Hashable, Sendable, Codable {
    case direct, reverse
    var sign: Double { self == .direct ? 1 : -1 }
}

/// What a PID loop remembers between steps. Small and serialisable: the daemon persists it.
package struct PIDState: Hashable, Sendable, Codable {
    package var integral: Double = 0
    /// Last measurement, for derivative on measurement; nil after a reset.
    package var lastMeasurement: Double? = nil

    package init(integral: Double = 0, lastMeasurement: Double? = nil) {
        self.integral = integral
        self.lastMeasurement = lastMeasurement
    }
}

/// One step's account, for the journal.
package struct PIDStep: Hashable, Sendable, Codable {
    package let error: Double
    package let p: Double
    package let i: Double
    package let d: Double
    package let output: Double
    /// True when P+I+D was outside the output clamp.
    package let saturated: Bool
    /// False when conditional integration froze the integrator this step.
    package let integrated: Bool
}

/// A textbook PID with the three habits that make it safe to run unattended:
///
/// - Derivative on measurement: D acts on `-d(measurement)/dt`, not on `d(error)/dt`, so a
///   setpoint change moves P and I but never kicks D.
/// - Anti-windup: the integral is clamped to `±integralMax`, and it is not advanced when the
///   output is saturated and the error would push it further into saturation.
/// - Bumpless transfer: `engage` sets the integrator so the first output equals the output
///   already in force, so taking control does not jolt the plant.
package enum PID {
    package static func step(_ gains: PIDGains, _ action: PIDAction, state: PIDState,
                            setpoint: Double, measurement: Double, scale: Double,
                            dtHours: Double) -> (PIDStep, PIDState) {
        precondition(gains.isValid && scale > 0 && scale.isFinite && dtHours >= 0)
        precondition(setpoint.isFinite && measurement.isFinite, "PID fed a non-finite value")
        let error = action.sign * (setpoint - measurement) / scale
        let p = gains.kp * error
        var d = 0.0
        if let last = state.lastMeasurement, dtHours > 0 {
            d = -action.sign * gains.kd * (measurement - last) / scale / dtHours
        }
        let proposedIntegral = clamp(state.integral + gains.ki * error * dtHours, gains.integralMax)
        let unclamped = p + proposedIntegral + d
        // Conditional integration: freeze the integrator when it would deepen saturation.
        let windingUp = (unclamped > gains.outputMax && error > 0) || (unclamped < gains.outputMin && error < 0)
        let integral = windingUp ? state.integral : proposedIntegral
        let raw = p + integral + d
        let output = min(max(raw, gains.outputMin), gains.outputMax)
        let report = PIDStep(error: error, p: p, i: integral, d: d, output: output,
                             saturated: raw != output, integrated: !windingUp)
        return (report, PIDState(integral: integral, lastMeasurement: measurement))
    }

    /// Bumpless transfer: state such that, at this measurement, the next output equals
    /// `currentOutput` (within the integral clamp).
    package static func engage(_ gains: PIDGains, _ action: PIDAction, setpoint: Double,
                              measurement: Double, scale: Double, currentOutput: Double) -> PIDState {
        precondition(gains.isValid && scale > 0 && setpoint.isFinite && measurement.isFinite)
        let held = min(max(currentOutput.isFinite ? currentOutput : 0, gains.outputMin), gains.outputMax)
        let p = gains.kp * action.sign * (setpoint - measurement) / scale
        return PIDState(integral: clamp(held - p, gains.integralMax), lastMeasurement: measurement)
    }

    static func clamp(_ v: Double, _ limit: Double) -> Double { min(max(v, -limit), limit) }
}
