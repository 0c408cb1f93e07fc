import Glibc

/// The Elasticsearch bulk API's shapes: the `…/_bulk` paths and the action line that comes
/// before each document (`{"index":{"_index":"logs","_id":"1"}}`). Only what ingesting needs is
/// read from it: the operation and the index.
enum HTTPBulk {
    enum Operation: Equatable {
        case index, create, update, delete

        /// Whether a document line follows the action line.
        var hasDocument: Bool { self != .delete }
        var name: StaticString {
            switch self {
            case .index: "index"
            case .create: "create"
            case .update: "update"
            case .delete: "delete"
            }
        }
    }

    struct Action: Equatable {
        var operation: Operation
        /// The `_index` value's bytes in the line, if it names one.
        var index: Range<Int>?
    }

    /// The index named in `/{index}/_bulk` (empty for `/_bulk`), or nil when `path` is not a bulk path.
    static func bulkPath(_ path: UnsafeRawBufferPointer) -> Range<Int>? {
        var end = path.count
        if end > 1 && path[end - 1] == 0x2F { end -= 1 }
        let suffix: StaticString = "/_bulk"
        let n = suffix.utf8CodeUnitCount
        guard end >= n, memcmp(path.baseAddress! + end - n, suffix.utf8Start, n) == 0 else { return nil }
        let before = end - n
        if before == 0 { return 0..<0 }
        guard path[0] == 0x2F, before > 1, path[1..<before].firstIndex(of: 0x2F) == nil else { return nil }
        return 1..<before
    }

    /// Index names are written into documents and answers as JSON strings: nothing that would
    /// need escaping (Elasticsearch forbids `"`, `\`, spaces and more in them anyway).
    static func isValidIndexName(_ name: UnsafeRawBufferPointer) -> Bool {
        for b in name where b <= 0x20 || b == 0x22 || b == 0x5C || b >= 0x7F { return false }
        return true
    }

    /// Only spaces, tabs and carriage returns (a blank line between bulk lines).
    static func isBlank(_ line: UnsafeRawBufferPointer) -> Bool {
        for b in line where b != 0x20 && b != 0x09 && b != 0x0D { return false }
        return true
    }

    /// Reads an action line: `{"OP":{…,"_index":"NAME",…}}`. nil: not an action line.
    static func parseAction(_ line: UnsafeRawBufferPointer) -> Action? {
        var i = 0
        func skipSpace() { while i < line.count && (line[i] == 0x20 || line[i] == 0x09 || line[i] == 0x0D) { i += 1 } }
        func expect(_ b: UInt8) -> Bool {
            skipSpace()
            guard i < line.count, line[i] == b else { return false }
            i += 1
            return true
        }
        guard expect(0x7B), expect(0x22) else { return nil }
        let nameStart = i
        while i < line.count && line[i] != 0x22 { i += 1 }
        guard i < line.count else { return nil }
        let name = UnsafeRawBufferPointer(rebasing: line[nameStart..<i])
        i += 1
        let operation: Operation
        if name.equals("index") { operation = .index }
        else if name.equals("create") { operation = .create }
        else if name.equals("update") { operation = .update }
        else if name.equals("delete") { operation = .delete }
        else { return nil }
        guard expect(0x3A), expect(0x7B) else { return nil }
        var action = Action(operation: operation, index: nil)
        // `"_index"` as a key: a quote, the name, a quote, then a colon.
        let key: StaticString = "\"_index\""
        let k = key.utf8CodeUnitCount
        var j = i
        while j + k <= line.count {
            if line[j] == 0x22 && memcmp(line.baseAddress! + j, key.utf8Start, k) == 0 {
                i = j + k
                guard expect(0x3A), expect(0x22) else { return nil }
                let start = i
                while i < line.count && line[i] != 0x22 && line[i] != 0x5C { i += 1 }
                guard i < line.count, line[i] == 0x22 else { return nil }
                action.index = start..<i
                break
            }
            j += 1
        }
        return action
    }
}

/// Answers' fixed parts.
enum HTTPAnswers {
    static let continueLine: StaticString = "HTTP/1.1 100 Continue\r\n\r\n"
    /// What `GET /` answers: Elasticsearch 8's version object, which Beats and the clients check.
    static let info: StaticString = """
        {"name":"sluice","cluster_name":"sluice","cluster_uuid":"c2x1aWNlLWluZ2VzdC1ub2Rl","version":{"number":"8.17.0",\
        "build_flavor":"default","build_type":"tar","build_hash":"sluice","build_date":"2026-01-01T00:00:00.000Z",\
        "build_snapshot":false,"lucene_version":"9.12.0","minimum_wire_compatibility_version":"7.17.0",\
        "minimum_index_compatibility_version":"7.0.0"},"tagline":"You Know, for Search"}
        """
}

/// The statuses the input answers with.
enum HTTPStatus {
    case ok, badRequest, notFound, methodNotAllowed, payloadTooLarge, unsupportedMediaType, tooManyRequests
    case serverError, versionNotSupported

    var line: StaticString {
        switch self {
        case .ok: "200 OK"
        case .badRequest: "400 Bad Request"
        case .notFound: "404 Not Found"
        case .methodNotAllowed: "405 Method Not Allowed"
        case .payloadTooLarge: "413 Content Too Large"
        case .unsupportedMediaType: "415 Unsupported Media Type"
        case .tooManyRequests: "429 Too Many Requests"
        case .serverError: "500 Internal Server Error"
        case .versionNotSupported: "505 HTTP Version Not Supported"
        }
    }

    var code: UInt64 {
        switch self {
        case .ok: 200
        case .badRequest: 400
        case .notFound: 404
        case .methodNotAllowed: 405
        case .payloadTooLarge: 413
        case .unsupportedMediaType: 415
        case .tooManyRequests: 429
        case .serverError: 500
        case .versionNotSupported: 505
        }
    }

    /// The Elasticsearch error type clients show.
    var type: StaticString {
        switch self {
        case .tooManyRequests: "es_rejected_execution_exception"
        case .payloadTooLarge: "request_entity_too_large"
        case .notFound: "resource_not_found_exception"
        default: "illegal_argument_exception"
        }
    }
}

extension HTTPFamily {
    /// Bulk body bytes: action lines are read (into the scratch line) and dropped, each
    /// document line becomes an event whose object starts with `"_index":"…"` (from its action
    /// line, else from the path), and every action adds its item to the answer.
    func feedBulk(_ c: Int, _ bytes: UnsafeRawBufferPointer, _ context: InputContext) -> (used: Int, outcome: Outcome) {
        let maxHeaderBytes = options[connections[c].listener].maxHeaderBytes
        let scratch = connections[c].scratch!
        var i = 0
        while i < bytes.count {
            switch connections[c].bulkLine {
            case .action:
                let newline = memchr(bytes.baseAddress! + i, 0x0A, bytes.count - i).map { UnsafeRawPointer($0) - bytes.baseAddress! }
                let end = newline ?? bytes.count
                let length = connections[c].actionLength
                guard length + end - i <= HTTPScratch.maxActionLineBytes else {
                    fail(c, .badRequest, "bulk action line over 4096 bytes", context)
                    return (i, .failed)
                }
                if length == 0, let nl = newline {
                    // The whole line is in these bytes (the common case): read where it is.
                    let line = UnsafeRawBufferPointer(rebasing: bytes[i..<nl])
                    i = nl + 1
                    if !readAction(c, line, context) { return (i, .failed) }
                    continue
                }
                (scratch + HTTPScratch.action(maxHeaderBytes) + length).copyMemory(from: bytes.baseAddress! + i, byteCount: end - i)
                connections[c].actionLength = length + end - i
                guard let nl = newline else { return (bytes.count, .ok) }
                i = nl + 1
                let line = UnsafeRawBufferPointer(start: scratch + HTTPScratch.action(maxHeaderBytes), count: connections[c].actionLength)
                connections[c].actionLength = 0
                if !readAction(c, line, context) { return (i, .failed) }
            case .docStart, .docAfterBrace:
                let b = bytes[i]
                if b == 0x20 || b == 0x09 || b == 0x0D {
                    i += 1
                    continue
                }
                if connections[c].bulkLine == .docStart {
                    if b == 0x7B {
                        // The document's object opens: `{"_index":"…"` goes first, and with it
                        // the comma when a member is seen to follow in these bytes (one
                        // framing call instead of two); else the next bytes decide.
                        var next = i + 1
                        while next < bytes.count && (bytes[next] == 0x20 || bytes[next] == 0x09 || bytes[next] == 0x0D) { next += 1 }
                        let member = next < bytes.count && bytes[next] != 0x7D && bytes[next] != 0x0A
                        let prefix = UnsafeRawBufferPointer(start: scratch + HTTPScratch.prefix(maxHeaderBytes),
                                                            count: connections[c].indexPrefixLength + (member ? 1 : 0))
                        if frame(c, prefix, context).stuck { return (i, .stuck) }
                        i += 1
                        connections[c].bulkLine = member ? .docBody : .docAfterBrace
                    } else {
                        connections[c].bulkLine = .docBody  // not an object: kept as it is
                    }
                } else {
                    if b != 0x7D && b != 0x0A {
                        var comma: UInt8 = 0x2C
                        if withUnsafeBytes(of: &comma, { frame(c, $0, context).stuck }) { return (i, .stuck) }
                    }
                    connections[c].bulkLine = .docBody
                }
            case .docBody:
                let newline = memchr(bytes.baseAddress! + i, 0x0A, bytes.count - i).map { UnsafeRawPointer($0) - bytes.baseAddress! }
                let end = newline.map { $0 + 1 } ?? bytes.count
                let r = frame(c, UnsafeRawBufferPointer(rebasing: bytes[i..<end]), context)
                i += r.used
                if r.stuck { return (i, .stuck) }
                if newline != nil { connections[c].bulkLine = .action }
            case .skipDoc:
                let newline = memchr(bytes.baseAddress! + i, 0x0A, bytes.count - i).map { UnsafeRawPointer($0) - bytes.baseAddress! }
                guard let nl = newline else { return (bytes.count, .ok) }
                i = nl + 1
                connections[c].bulkLine = .action
            }
        }
        return (i, .ok)
    }

    /// A whole action line: an action starts, a blank line is skipped; anything else is
    /// answered 400 (false).
    func readAction(_ c: Int, _ line: UnsafeRawBufferPointer, _ context: InputContext) -> Bool {
        if let action = HTTPBulk.parseAction(line) {
            startAction(c, action, line, context)
            return true
        }
        if HTTPBulk.isBlank(line) { return true }
        fail(c, .badRequest, "malformed bulk action line", context)
        return false
    }

    /// An action line read: its item goes into the answer, and the document that follows gets
    /// its index as the prefix of its object.
    func startAction(_ c: Int, _ action: HTTPBulk.Action, _ line: UnsafeRawBufferPointer, _ context: InputContext) {
        let maxHeaderBytes = options[connections[c].listener].maxHeaderBytes
        let scratch = connections[c].scratch!
        var index = UnsafeRawBufferPointer(start: scratch + HTTPScratch.pathIndex(maxHeaderBytes), count: connections[c].pathIndexLength)
        if let named = action.index { index = UnsafeRawBufferPointer(rebasing: line[named]) }
        let valid = !index.isEmpty && index.count <= HTTPScratch.maxIndexNameBytes && HTTPBulk.isValidIndexName(index)
        if connections[c].items > 0 { connections[c].response.append(",") }
        connections[c].items += 1
        let prefix = scratch + HTTPScratch.prefix(maxHeaderBytes)
        let opening: StaticString = "{\"_index\":\""
        if valid, let last = connections[c].lastItem, connections[c].lastItemOperation == action.operation,
           connections[c].indexPrefixLength == opening.utf8CodeUnitCount + index.count + 1,
           memcmp(prefix + opening.utf8CodeUnitCount, index.baseAddress!, index.count) == 0 {
            // The same operation on the same index as the last document (most bulk requests):
            // its item again, and the document prefix as it is.
            connections[c].response.appendCopy(last)
            connections[c].bulkLine = .docStart
            return
        }
        let itemStart = connections[c].response.end
        connections[c].response.append("{\"")
        connections[c].response.append(action.operation.name)
        connections[c].response.append("\":{\"_index\":")
        guard valid else {
            connections[c].itemErrors = true
            connections[c].response.append("null,\"status\":400,\"error\":{\"type\":\"action_request_validation_exception\",\"reason\":\"index is missing or invalid\"}}}")
            connections[c].bulkLine = action.operation.hasDocument ? .skipDoc : .action
            return
        }
        connections[c].response.append("\"")
        connections[c].response.append(index)
        switch action.operation {
        case .delete:
            connections[c].response.append("\",\"status\":200,\"result\":\"noop\"}}")
            connections[c].bulkLine = .action
            return
        case .update:
            connections[c].response.append("\",\"status\":200,\"result\":\"updated\"}}")
        case .index, .create:
            connections[c].response.append("\",\"status\":201,\"result\":\"created\"}}")
        }
        connections[c].lastItem = itemStart..<connections[c].response.end
        connections[c].lastItemOperation = action.operation
        prefix.copyMemory(from: opening.utf8Start, byteCount: opening.utf8CodeUnitCount)
        (prefix + opening.utf8CodeUnitCount).copyMemory(from: index.baseAddress!, byteCount: index.count)
        prefix.storeBytes(of: 0x22, toByteOffset: opening.utf8CodeUnitCount + index.count, as: UInt8.self)
        // The comma after it is framed with it when the document has members (`feedBulk`).
        prefix.storeBytes(of: 0x2C, toByteOffset: opening.utf8CodeUnitCount + index.count + 1, as: UInt8.self)
        connections[c].indexPrefixLength = opening.utf8CodeUnitCount + index.count + 1
        connections[c].bulkLine = .docStart
    }

    // MARK: Answers

    /// The answer to a request whose body was read: with ack=output, sent once every event of
    /// it was acknowledged (the caller waits for that).
    func answer(_ c: Int, _ context: InputContext) {
        let took = (context.now &- connections[c].requestStartNanos) / 1_000_000
        var opening = [UInt8]()  // per request: the answer's first bytes
        opening.append(contentsOf: "{\"took\":\(took),\"errors\":\(connections[c].itemErrors ? "true" : "false")".utf8)
        if connections[c].bulk {
            opening.append(contentsOf: ",\"items\":[".utf8)
            connections[c].response.append("]}")
        } else {
            opening.append(contentsOf: ",\"events\":\(connections[c].requestEvents)}".utf8)
        }
        let keepAlive = connections[c].request.keepAlive && !context.stopping
        connections[c].closeAfterAnswer = !keepAlive
        opening.withUnsafeBytes { connections[c].response.finish(status: HTTPStatus.ok.line, prefix: $0, keepAlive: keepAlive) }
        sendAnswer(c, context)
    }

    /// `GET /` (and `HEAD /`): the Elasticsearch version object and product header.
    func answerInfo(_ c: Int, _ context: InputContext) {
        connections[c].response.reset()
        connections[c].response.append(HTTPAnswers.info)
        let keepAlive = connections[c].request.keepAlive && !context.stopping
        connections[c].closeAfterAnswer = !keepAlive
        connections[c].response.finish(status: HTTPStatus.ok.line, prefix: UnsafeRawBufferPointer(start: nil, count: 0), keepAlive: keepAlive)
        if connections[c].request.method == .head { connections[c].response.dropBody() }
        sendAnswer(c, context)
    }

    func answerNotFound(_ c: Int, _ context: InputContext) {
        connections[c].response.reset()
        connections[c].response.append("{\"error\":{\"type\":\"resource_not_found_exception\",\"reason\":\"sluice serves GET /, POST /_bulk, POST /{index}/_bulk and NDJSON POSTs\"},\"status\":404}")
        let keepAlive = connections[c].request.keepAlive && !context.stopping
        connections[c].closeAfterAnswer = !keepAlive
        connections[c].response.finish(status: HTTPStatus.notFound.line, prefix: UnsafeRawBufferPointer(start: nil, count: 0), keepAlive: keepAlive)
        if connections[c].request.method == .head { connections[c].response.dropBody() }
        sendAnswer(c, context)
    }

    /// Answers a request that broke a rule with `status` and closes the connection after it
    /// (its remaining bytes cannot be trusted to start the next request). The half-framed
    /// record is given back; events already framed of the request go on (the sender, told the
    /// request failed, may send them again).
    func fail(_ c: Int, _ status: HTTPStatus, _ reason: StaticString, _ context: InputContext) {
        respond(c, status, reason, close: true, context)
    }

    /// Answers with an error `status`; `close`: and closes the connection after it.
    func respond(_ c: Int, _ status: HTTPStatus, _ reason: StaticString, close: Bool, _ context: InputContext) {
        context.counters.add(.httpErrors, 1, pipeline: connections[c].pipeline)
        context.abandon(&connections[c].framer)
        connections[c].response.reset()
        connections[c].lastItem = nil
        connections[c].response.append("{\"error\":{\"type\":\"")
        connections[c].response.append(status.type)
        connections[c].response.append("\",\"reason\":\"")
        connections[c].response.append(reason)
        connections[c].response.append("\"},\"status\":")
        connections[c].response.append(decimal: status.code)
        connections[c].response.append("}")
        let keepAlive = !close && connections[c].request.keepAlive && !context.stopping
        connections[c].response.finish(status: status.line, prefix: UnsafeRawBufferPointer(start: nil, count: 0), keepAlive: keepAlive)
        connections[c].closeAfterAnswer = !keepAlive
        if close { endReading(c, context) }
        sendAnswer(c, context)
    }
}
