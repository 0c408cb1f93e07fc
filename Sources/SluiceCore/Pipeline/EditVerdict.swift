/// How a field-editing action's edit becomes its verdict, counting what it could not do; one
/// place, so every action built on `EventEditor` counts the same way.
extension EventEditor.Outcome {
    @inline(__always) func verdict(counters: CounterBlock, pipeline: Int) -> Action.Verdict {
        switch self {
        case .done, .missing: return .pass
        case .wait: return .wait
        case .notAnObject: counters.add(.editNotObject, 1, pipeline: pipeline)
        case .pathBlocked: counters.add(.fieldWrongType, 1, pipeline: pipeline)
        case .tooLarge: counters.add(.editTooLarge, 1, pipeline: pipeline)
        }
        return .pass
    }
}

extension FieldPath {
    /// A path given as parameter `key` (its errors name that key).
    init(_ text: String, key: String) throws(PluginArgumentError) {
        do { try self.init(text) } catch { throw PluginArgumentError(key: key, error.message) }
    }

    /// One path lies inside the other (or they are the same): `a` and `a.b`.
    func overlaps(_ other: FieldPath) -> Bool {
        for i in 0..<min(componentCount, other.componentCount) {
            let a = component(i), b = other.component(i)
            if a.count != b.count || (a.count > 0 && memcmp(a.baseAddress!, b.baseAddress!, a.count) != 0) { return false }
        }
        return true
    }
}

import Glibc
