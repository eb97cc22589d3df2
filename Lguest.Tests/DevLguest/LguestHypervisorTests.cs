using Lguest.DevLguest;
using Lguest.Hypervisor;

namespace Lguest.Tests.DevLguest;

public class LguestHypervisorTests
{
    [Test]
    public void Opening_on_a_host_without_dev_lguest_explains_that_it_left_linux_in_4_14()
    {
        if (File.Exists(LguestHypervisor.DefaultDevicePath))
            Assert.Ignore("this host has /dev/lguest");
        Assert.That(LguestHypervisor.TryOpen(LguestHypervisor.DefaultDevicePath, out LguestHypervisor? hypervisor, out HostUnavailableException? why), Is.False);
        Assert.That(hypervisor, Is.Null);
        Assert.That(why!.Message, Does.StartWith("no /dev/lguest on this host: it left Linux in 4.14"));
        Assert.That((why.Backend, why.DevicePath, why.Reason, why.Errno), Is.EqualTo(("lguest", "/dev/lguest", HostUnavailableReason.DeviceMissing, 2)));
    }

    [Test]
    public void Opening_a_missing_device_path_names_it()
    {
        Assert.That(LguestHypervisor.TryOpen("/nonexistent/lguest", out _, out HostUnavailableException? why), Is.False);
        Assert.That(why!.Message, Does.StartWith("no /nonexistent/lguest on this host"));
    }

    [Test]
    public void Open_throws_the_same_explanation_as_a_host_unavailable_exception()
    {
        Assert.That(() => LguestHypervisor.Open("/nonexistent/lguest"),
            Throws.TypeOf<HostUnavailableException>().With.Message.Contains("it left Linux in 4.14")
                .And.Property(nameof(HostUnavailableException.Reason)).EqualTo(HostUnavailableReason.DeviceMissing));
    }

    [Test]
    public void A_device_node_that_opens_gives_a_backend_named_lguest()
    {
        // Any node that opens read-write stands in for the device here; nothing is written to it.
        Assert.That(LguestHypervisor.TryOpen("/dev/null", out LguestHypervisor? hypervisor, out _), Is.True);
        using (hypervisor)
            Assert.That(hypervisor!.Name, Is.EqualTo("lguest"));
    }
}
