// When the incremental collector runs, and how much at a time: the pacing
// the VM's scheduler uses at its safepoints, and the benchmarks with it.

/// Paces incremental collection at a mutator's safepoints.
///
/// A cycle begins once the heap has grown by as much as survived the last
/// collection (at least `minimumAllocation`): the cost of a collection stays
/// proportional to the allocation that made it due, and the memory a
/// program dirties between snapshots stays near its live data plus that
/// allocation, since freed memory is reused first. The count lives in the
/// image (`ObjectMemory.lastCollection`): a restart goes on with it, so
/// garbage made before a crash is collected after it.
///
/// While a cycle runs, each safepoint does one bounded step: at least
/// `stepBudget` units (about 0.05 ms), plus one unit for every
/// `bytesPerStepUnit` bytes allocated since the last step, so that a
/// mutator allocating megabytes between safepoints cannot outrun it; at
/// most `stepBudgetLimit`, the rest carried over to the next steps.
public struct CollectionPacer: Sendable {
    /// The least allocation between two collections: small, so that a
    /// program with little live data keeps reusing the same few MiB (and a
    /// snapshot writes about that much) instead of dirtying fresh memory.
    public static let minimumAllocation: UInt64 = 2 << 20
    /// Work units of one collection step, at least.
    public static let stepBudget = 30_000
    /// Bytes allocated since the last step that add one unit to the next
    /// step: trimming a freed page costs 512 units (8 bytes a unit), so at
    /// 4 bytes a unit the collector frees pages twice as fast as they are
    /// allocated.
    public static let bytesPerStepUnit: UInt64 = 4

    /// Work units of one step, at most (about 2-8 ms): what a step owes
    /// beyond this carries over to the next steps, so that one huge
    /// allocation does not make one huge step.
    public static let stepBudgetLimit = 4_000_000

    /// `memory.bytesAllocated` at the last safepoint (0: none yet).
    private var allocatedAtLastStep: UInt64 = 0
    /// Work owed by earlier steps that went over `stepBudgetLimit`.
    private var owed = 0

    public init() {}

    /// At a safepoint: a step of the cycle in progress, or a new cycle if
    /// one is due. `prepare` runs just before a cycle begins; `rescanning`
    /// is the remark's callback (`ObjectMemory.collectionStep`). Returns
    /// true if a cycle completed in this step.
    @discardableResult
    public mutating func safepoint(_ memory: ObjectMemory, prepare: () -> Void = {},
                                   rescanning: () -> [ObjectRef] = { [] }) -> Bool {
        let allocated = allocatedAtLastStep == 0 ? 0 : memory.bytesAllocated &- allocatedAtLastStep
        allocatedAtLastStep = memory.bytesAllocated
        if memory.isCollecting {
            let wanted = Self.stepBudget &+ owed &+ Int(min(allocated, 1 << 40) / Self.bytesPerStepUnit)
            let budget = min(wanted, Self.stepBudgetLimit)
            owed = wanted - budget
            guard memory.collectionStep(budget: budget, rescanning: rescanning) else { return false }
            owed = 0
            memory.lastCollection = (memory.bytesAllocated, UInt64(memory.lastIncrementalCollection?.liveBytes ?? 0))
            return true
        }
        let last = memory.lastCollection
        guard memory.bytesAllocated &- last.bytesAllocated > max(Self.minimumAllocation, last.liveBytes) else { return false }
        prepare()
        memory.beginCollection()
        return false
    }
}
