import Codecs
import Testing

struct SecretSetTests {
    @Test func acceptsEachKeyAndNothingElse() {
        let keys = SecretSet(["key-one", "key-two", ""])
        #expect(keys.count == 2)
        #expect(keys.contains("key-one"))
        #expect(keys.contains("key-two"))
        for wrong in ["", "key", "key-one ", "KEY-ONE", "key-onf", "key-one-and-more"] {
            #expect(!keys.contains(wrong), "\(wrong)")
        }
    }

    @Test func emptySetIsOpenAndMatchesNothing() {
        let none = SecretSet([])
        #expect(none.isEmpty)
        #expect(!none.contains(""))
    }
}
