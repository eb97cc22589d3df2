using Lguest.Hypervisor;
using Lguest.Kvm;

namespace Lguest.Tests.Support;

/// <summary>Opens this host's /dev/kvm for a test, or ignores the test with the reason it cannot.</summary>
internal static class KvmHost
{
    public static KvmHypervisor OpenOrIgnore(bool inKernelIrqchip = true)
    {
        try
        {
            return KvmHypervisor.Open(new KvmHypervisorOptions { InKernelIrqchip = inKernelIrqchip });
        }
        catch (HypervisorException e)
        {
            // The Test target never gets here on its own: where this host's /dev/kvm cannot run the layer it runs
            // the layer inside the nested bed, which has one (--kvm-layer=auto).
            Assert.Ignore($"KVM is not usable here: {e.Message}; `dotnet cake --target=Test --layers=kvm` runs these tests in the nested bed");
            throw; // unreachable: Assert.Ignore throws
        }
    }

    /// <summary>Ignores the test unless /dev/kvm opens (for tests that run lguest in a child process).</summary>
    public static Scope Require() => new(OpenOrIgnore());

    public readonly struct Scope(KvmHypervisor kvm) : IDisposable
    {
        public void Dispose() => kvm.Dispose();
    }
}
