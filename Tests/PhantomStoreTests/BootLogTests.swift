import Testing
import PhantomHost
@testable import PhantomStore

/// The boot log (issue 10 section 6, storage part): boot records live
/// outside the snapshots, survive close, rollback and a kill, and a damaged
/// log never stops an open.
@Suite struct BootLogTests {
    func freshStore(_ device: FaultyBlockDevice) throws -> Store {
        let store = try Store.create(on: device, logicalSize: 16 << 20, keep: 4)
        for seed in UInt64(1)...3 { try store.commit(pages: [(seed, pageBytes(seed: seed, page: seed))]) }
        return store
    }

    @Test func recordsSurviveCloseAndReopen() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = dir.file("boot.img")
        var written: [BootRecord] = []
        do {
            let device = try FileBlockDevice(path: path, mode: .create)
            let store = try Store.create(on: device, logicalSize: 16 << 20)
            try store.commit(pages: [(0, pageBytes(seed: 1, page: 0))])
            #expect(store.bootRecords.isEmpty)
            let first = try store.recordBoot(snapshot: 1, note: "first boot")
            #expect(first.sequence == 1 && first.outcome == .running && first.snapshot == 1)
            try store.setBootOutcome(sequence: 1, .healthy)
            let second = try store.recordBoot(snapshot: 1, note: "second")
            try store.setBootOutcome(sequence: second.sequence, .failed, note: "crashed in run()")
            written = store.bootRecords
            device.close()
        }
        #expect(written.map(\.sequence) == [1, 2] && written.map(\.outcome) == [.healthy, .failed])
        #expect(written.map(\.note) == ["first boot", "crashed in run()"])
        let store = try Store.open(try FileBlockDevice(path: path, mode: .readWrite))
        #expect(store.bootRecords == written)
        #expect(store.openReport.isClean, "\(store.openReport.notes)")
        #expect(try store.recordBoot(snapshot: 1, note: "").sequence == 3)
    }

    @Test func recordsSurviveARollbackAndAKill() throws {
        let device = FaultyBlockDevice()
        let store = try freshStore(device)
        try store.recordBoot(snapshot: 3, note: "boot from 3")
        try store.setBootOutcome(sequence: 1, .failed)
        try store.rollback(to: 1)
        try store.recordBoot(snapshot: 1, note: "rolled back from 3 after 1 failed boot")
        #expect(store.bootRecords.map(\.sequence) == [1, 2])
        // A kill: no close, unflushed writes dropped. Both records were flushed.
        let killed = try Store.open(device.rebooted(.dropAll))
        #expect(killed.newestSnapshot?.id == 1)
        #expect(killed.bootRecords == store.bootRecords)
        #expect(killed.bootRecords.last?.note == "rolled back from 3 after 1 failed boot")
    }

    @Test func aCrashWhileTheLogIsWrittenLeavesTheOldOrTheNewLog() throws {
        let reference = FaultyBlockDevice()
        let store = try freshStore(reference)
        try store.recordBoot(snapshot: 3, note: "one")
        let start = reference.operationCount
        try store.recordBoot(snapshot: 3, note: "two")
        let operations = reference.operationCount - start
        for cut in 0..<operations {
            for mode in [FaultyBlockDevice.CrashMode.dropAll, .keepAll, .tearLast(seed: 7), .garble(seed: 8)] {
                let device = FaultyBlockDevice()
                let again = try freshStore(device)
                try again.recordBoot(snapshot: 3, note: "one")
                device.crashAtOperation = device.operationCount + cut
                #expect(throws: StoreError.self) { try again.recordBoot(snapshot: 3, note: "two") }
                let reopened = try Store.open(device.rebooted(mode))
                let records = reopened.bootRecords.map { "\($0.sequence) \($0.note)" }
                #expect(records == ["1 one"] || records == ["1 one", "2 two"], "cut \(cut), \(mode): \(records)")
                // The next boot never reuses a sequence that may have been handed out.
                #expect(try reopened.recordBoot(snapshot: 3, note: "three").sequence >= 2)
            }
        }
    }

    @Test func aDamagedNewestCopyIsReportedAndTheOtherServes() throws {
        let device = FaultyBlockDevice()
        let store = try freshStore(device)
        try store.recordBoot(snapshot: 3, note: "a")
        try store.recordBoot(snapshot: 3, note: "b")
        let afterFirst = Array(store.bootRecords.prefix(1))
        // Generation 2 (the record "b") is in the copy at block 2.
        device.flipBit(atByte: 2 * 4096 + 100, bit: 4)
        let reopened = try Store.open(device.rebooted(.keepAll))
        #expect(reopened.bootRecords == afterFirst)
        #expect(reopened.openReport.notes.contains { $0.contains("boot log copy at blocks 2-5 is damaged") }, "\(reopened.openReport.notes)")
        // Sequence 2 may have been handed out: the next one is 3.
        #expect(try reopened.recordBoot(snapshot: 3, note: "c").sequence == 3)
    }

    @Test func aLogDamagedInBothCopiesIsReadAsEmptyAndSequencesAreNotReused() throws {
        let device = FaultyBlockDevice()
        let store = try freshStore(device)
        for index in 0..<5 { try store.recordBoot(snapshot: 3, note: "boot \(index)") }
        // A commit records the log's next sequence in the superblock.
        try store.commit(pages: [(9, pageBytes(seed: 9, page: 9))])
        var image = device.durableImage(after: .keepAll)
        image.replaceSubrange((2 * 4096)..<(10 * 4096), with: [UInt8](repeating: 0xA5, count: 8 * 4096))
        let reopened = try Store.open(FaultyBlockDevice(durableContents: image), verification: .newestSnapshot)
        #expect(reopened.bootRecords.isEmpty)
        #expect(reopened.newestSnapshot?.id == 4)
        #expect(reopened.openReport.notes.contains { $0.contains("the boot log is damaged") && $0.contains("read as empty") }, "\(reopened.openReport.notes)")
        #expect(try reopened.recordBoot(snapshot: 4, note: "after the damage").sequence == 6)
    }

    @Test func theNewest64AreKeptAndNotesAreCutAtACharacterBoundary() throws {
        let device = FaultyBlockDevice()
        let store = try freshStore(device)
        for index in 1...70 { try store.recordBoot(snapshot: 3, note: "boot \(index)") }
        #expect(store.bootRecords.count == 64)
        #expect(store.bootRecords.first?.sequence == 7 && store.bootRecords.last?.sequence == 70)
        let long = String(repeating: "é", count: 100)  // 200 bytes
        let record = try store.recordBoot(snapshot: 3, note: long)
        #expect(record.note == String(repeating: "é", count: 80) && record.note.utf8.count == 160)
        let reopened = try Store.open(device.rebooted(.keepAll))
        #expect(reopened.bootRecords == store.bootRecords)
        #expect(reopened.bootRecords.allSatisfy { $0.note.utf8.count <= 160 })
    }

    @Test func badCallsThrowClearErrors() throws {
        let device = FaultyBlockDevice()
        let store = try freshStore(device)
        try store.recordBoot(snapshot: 3, note: "x")
        #expect(throws: StoreError.self) { try store.setBootOutcome(sequence: 9, .healthy) }
        do {
            try store.setBootOutcome(sequence: 9, .healthy)
        } catch let error {
            #expect(error.description.contains("no boot 9") && error.description.contains("1...1"), "\(error)")
        }
        let readOnly = try Store.open(device.rebooted(.keepAll), readOnly: true)
        #expect(readOnly.bootRecords.count == 1)
        #expect(throws: StoreError.readOnly(path: device.path)) { try readOnly.recordBoot(snapshot: 3, note: "") }
        let old = try Store.create(on: FaultyBlockDevice(), logicalSize: 1 << 20, formatVersion: 1)
        #expect(throws: StoreError.formatTooOld(path: "faulty-device", version: 1, feature: "boot log")) {
            try old.recordBoot(snapshot: 0, note: "")
        }
    }
}
