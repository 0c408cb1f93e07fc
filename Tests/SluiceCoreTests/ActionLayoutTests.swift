import Testing

@testable import SluiceCore

/// The processor copies an `Action` out of the worker's table for every event it runs; a copy
/// of a type holding a reference (a class, an `Array`, a `String`) is a retain and a release
/// per event and action. Every action's stored state is therefore plain memory: pointers to what
/// `init` or `forWorker()` allocated, numbers, flags.
@Suite struct ActionLayoutTests {
    @Test func everyActionIsPlainMemorySoRunningOneCopiesNoReference() {
        let notPlain = Action.plugins.filter { !_isPOD($0) }.map { $0.name }
        #expect(notPlain.isEmpty, "actions holding references: \(notPlain)")
    }

    @Test func theConditionIsPlainMemory() {
        #expect(_isPOD(Condition.self))
        #expect(_isPOD(Condition.Group.self))
        #expect(_isPOD(Action.self))
    }

    /// The batcher asks its encoder for a bound and an encoding on every event: the encoders
    /// live behind pointers, so the enum is a tag and a pointer, not a copy of an encoder.
    @Test func theOutputEncoderIsATagAndAPointer() {
        #expect(MemoryLayout<OutputEncoder>.size <= 9)
    }
}
