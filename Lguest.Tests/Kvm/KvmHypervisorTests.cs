using Lguest.Hypervisor;
using Lguest.Kvm;

namespace Lguest.Tests.Kvm;

public class KvmHypervisorTests
{
    [Test]
    public void Opening_a_missing_device_says_so_in_one_line()
    {
        var e = Assert.Throws<HostUnavailableException>(() => KvmHypervisor.Open(new KvmHypervisorOptions { DevicePath = "/nonexistent/kvm" }));
        Assert.That(e!.Message, Does.StartWith("cannot open /nonexistent/kvm: no such device"));
        Assert.That((e.Backend, e.DevicePath, e.Reason, e.Errno), Is.EqualTo(("kvm", "/nonexistent/kvm", HostUnavailableReason.DeviceMissing, 2)));
    }

    [Test]
    public void Opening_something_that_is_not_KVM_is_refused()
    {
        // /dev/null opens, but KVM_GET_API_VERSION fails on it.
        var e = Assert.Throws<HostUnavailableException>(() => KvmHypervisor.Open(new KvmHypervisorOptions { DevicePath = "/dev/null" }));
        Assert.That(e!.Reason, Is.EqualTo(HostUnavailableReason.Unsupported));
    }
}
