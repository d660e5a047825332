package dev.tokenmarket.inference;

/**
 * Chooses the kernels once. The Vector API class is only named through reflection, so it is never
 * loaded (and cannot fail to link) when the incubator module is absent.
 */
final class KernelsHolder {

    static final Kernels BEST = choose();

    private KernelsHolder() {
    }

    private static Kernels choose() {
        if (Boolean.getBoolean("tokenmarket.inference.scalar") || !Kernels.vectorApiAvailable()) {
            return ScalarKernels.INSTANCE;
        }
        try {
            Class<?> type = Class.forName("dev.tokenmarket.inference.VectorKernels");
            return (Kernels) type.getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            // A JVM that lists the module but cannot use it still gets correct, slower results.
            return ScalarKernels.INSTANCE;
        }
    }
}
