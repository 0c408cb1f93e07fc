import Testing

@testable import SluiceCore

@Suite struct SystemErrorTests {
    @Test(arguments: [(2, "ENOENT"), (4, "EINTR"), (11, "EAGAIN"), (62, "ETIME"), (104, "ECONNRESET"), (12, "ENOMEM")])
    func errnoCodesHaveTheirSymbolicNames(code: Int32, name: String) {
        #expect(SystemError(code: code, operation: "op").name == name)
    }

    @Test func aNegatedResultIsTurnedPositive() {
        let error = SystemError(negated: -2, operation: "open /missing")
        #expect(error.code == 2)
        #expect(error.description == "open /missing: ENOENT (No such file or directory)")
    }

    @Test func anUnknownCodeIsNamedByNumber() {
        #expect(SystemError(code: 9999, operation: "op").name == "errno 9999")
    }
}
