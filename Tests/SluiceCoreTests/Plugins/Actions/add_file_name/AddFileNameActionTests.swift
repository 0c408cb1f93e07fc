import Testing

@testable import SluiceCore

@Suite struct AddFileNameActionTests {
    /// A decoded event as if read by `worker`'s source `index` of `kind`.
    func event(_ json: String, worker: Int, kind: SourceIDs.Kind, index: Int, in pool: EventPool) throws -> Event {
        let event = try makeDecodedEvent(json, in: pool)
        event.mutableHeader.pointee.sourceID = SourceIDs.make(worker: worker, kind: kind, generation: 3, index: index)
        return event
    }

    @Test func theFilePathOfTheReadingWorkersSourceIsSet() throws {
        let pool = try makePool(capacity: 256, workers: 2)
        pool.slabs[1].sourceNames.set(7, path: "/var/log/app/current.log")
        pool.slabs[0].sourceNames.set(7, path: "/other/worker.log")
        let run = try EditActionRun("add_file_name", ("field", "meta.file"), pool: pool)
        defer { run.dispose() }
        let (verdict, out) = run.run(try event(#"{"a":1}"#, worker: 1, kind: .file, index: 7, in: pool))
        #expect(verdict == .pass)
        #expect(encodedText(out) == #"{"a":1,"meta":{"file":"/var/log/app/current.log"}}"#)
        #expect(run.count(.noFileName) == 0)
    }

    @Test func theDefaultFieldIsFileNameAndAPathIsEscaped() throws {
        let pool = try makePool()
        pool.slabs[0].sourceNames.set(0, path: "/logs/we\"ird\\name.log")
        let run = try EditActionRun("add_file_name", pool: pool)
        defer { run.dispose() }
        let (_, out) = run.run(try event(#"{"file_name":1,"b":2}"#, worker: 0, kind: .file, index: 0, in: pool))
        #expect(encodedText(out) == #"{"file_name":"/logs/we\"ird\\name.log","b":2}"#)
    }

    @Test func eventsOfOtherInputsAndOfStdinPassUnchangedAndAreCounted() throws {
        let pool = try makePool()
        pool.slabs[0].sourceNames.set(2, path: "/a.log")
        pool.slabs[0].sourceNames.set(2, path: nil)  // stdin: unnamed
        let run = try EditActionRun("add_file_name", pool: pool)
        defer { run.dispose() }
        for kind in [SourceIDs.Kind.tcp, .http, .file] {
            let (verdict, out) = run.run(try event(#"{"a":1}"#, worker: 0, kind: kind, index: 2, in: pool))
            #expect(verdict == .pass && !out.has(EventFlags.modified))
            #expect(encodedText(out) == #"{"a":1}"#)
        }
        #expect(run.count(.noFileName) == 3)
    }

    @Test func aReusedSourceIndexGetsItsNewName() throws {
        let pool = try makePool()
        pool.slabs[0].sourceNames.set(4, path: "/first.log")
        pool.slabs[0].sourceNames.set(4, path: "/second.log")
        let run = try EditActionRun("add_file_name", ("field", "f"), pool: pool)
        defer { run.dispose() }
        let (_, out) = run.run(try event(#"{"a":1}"#, worker: 0, kind: .file, index: 4, in: pool))
        #expect(encodedText(out) == #"{"a":1,"f":"/second.log"}"#)
    }

    @Test func nonObjectsAndFullEventsAreCounted() throws {
        let pool = try makePool()
        pool.slabs[0].sourceNames.set(0, path: "/a.log")
        let run = try EditActionRun("add_file_name", pool: pool)
        defer { run.dispose() }
        _ = run.run(try event("[1]", worker: 0, kind: .file, index: 0, in: pool))
        #expect(run.count(.editNotObject) == 1)
        let full = try nearlyFullEvent(in: pool, room: 2)
        full.mutableHeader.pointee.sourceID = SourceIDs.make(worker: 0, kind: .file, generation: 0, index: 0)
        _ = run.run(full)
        #expect(run.count(.editTooLarge) == 1 && !full.has(EventFlags.modified))
    }

    @Test func parameterErrorsNameTheKey() {
        #expect(editActionRejection("add_file_name", ("field", "a..b"))?.key == "field")
        #expect(editActionRejection("add_file_name", ("path", "x"))?.key == "path")
    }
}
