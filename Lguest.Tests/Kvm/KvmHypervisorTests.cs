using Lguest.Hypervisor;
using Lguest.Kvm;

namespace Lguest.Tests.Kvm;

public class KvmHypervisorTests
{
    [Test]
    public void Opening_a_missing_device_says_so_in_one_line()
    {
        var e = Assert.Throws<HypervisorException>(() => KvmHypervisor.Open(new KvmHypervisorOptions { DevicePath = "/nonexistent/kvm" }));
        Assert.That(e!.Message, Does.StartWith("cannot open /nonexistent/kvm: no such device"));
        Assert.That(e.Errno, Is.EqualTo(2));
    }

    [Test]
    public void Opening_something_that_is_not_KVM_is_refused()
    {
        // /dev/null opens, but KVM_GET_API_VERSION fails on it.
        Assert.Throws<HypervisorException>(() => KvmHypervisor.Open(new KvmHypervisorOptions { DevicePath = "/dev/null" }));
    }
}
