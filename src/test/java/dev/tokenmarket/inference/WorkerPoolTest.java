package dev.tokenmarket.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class WorkerPoolTest {

    @Test
    void everyItemRunsExactlyOnceAcrossManyTasksOfVaryingSplit() throws Exception {
        // Proves the hand-off never skips, repeats or mixes up tasks, including after workers parked.
        try (WorkerPool pool = new WorkerPool(3, "test-worker")) {
            for (int round = 0; round < 2_000; round++) {
                int items = 1 + round % 37;
                int parts = Math.min(4, 1 + round % 4 + (items > 1 ? 1 : 0));
                if (parts < 2 || parts > items) {
                    continue;
                }
                AtomicIntegerArray counts = new AtomicIntegerArray(items);
                pool.run(items, parts, (start, end, worker) -> {
                    for (int i = start; i < end; i++) {
                        counts.incrementAndGet(i);
                    }
                });
                for (int i = 0; i < items; i++) {
                    assertEquals(1, counts.get(i), "round " + round + " item " + i);
                }
                if (round % 500 == 0) {
                    Thread.sleep(2);
                }
            }
        }
    }

    @Test
    void aFailingWorkerRangeFailsTheCaller() {
        // Proves an exception on a worker thread reaches the thread that started the task.
        try (WorkerPool pool = new WorkerPool(1, "test-worker")) {
            IllegalStateException error = assertThrows(IllegalStateException.class, () -> pool.run(10, 2,
                    (start, end, worker) -> {
                        if (worker == 1) {
                            throw new IllegalStateException("boom");
                        }
                    }));
            assertEquals("boom", error.getMessage());
            int[] ran = new int[1];
            pool.run(2, 2, (start, end, worker) -> {
                if (worker == 0) {
                    ran[0]++;
                }
            });
            assertEquals(1, ran[0]);
        }
    }
}
