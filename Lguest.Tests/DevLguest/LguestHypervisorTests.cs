using Lguest.DevLguest;
using Lguest.Hypervisor;
using Microsoft.Extensions.DependencyInjection;

namespace Lguest.Tests.DevLguest;

public class LguestHypervisorTests
{
    [Test]
    public void Opening_on_a_host_without_dev_lguest_explains_that_it_left_linux_in_4_14()
    {
        if (File.Exists(LguestHypervisor.DefaultDevicePath))
            Assert.Ignore("this host has /dev/lguest");
        Assert.That(LguestHypervisor.TryOpen(out LguestHypervisor? hypervisor, out string? whyNot), Is.False);
        Assert.That(hypervisor, Is.Null);
        Assert.That(whyNot, Does.StartWith("no /dev/lguest on this host: it left Linux in 4.14"));
    }

    [Test]
    public void Opening_a_missing_device_path_names_it()
    {
        Assert.That(LguestHypervisor.TryOpen(out _, out string? whyNot, "/nonexistent/lguest"), Is.False);
        Assert.That(whyNot, Does.StartWith("no /nonexistent/lguest on this host"));
    }

    [Test]
    public void Open_throws_the_same_explanation_as_a_hypervisor_exception()
    {
        Assert.That(() => LguestHypervisor.Open("/nonexistent/lguest"),
            Throws.TypeOf<HypervisorException>().With.Message.Contains("it left Linux in 4.14"));
    }

    [Test]
    public void A_device_node_that_opens_gives_a_backend_named_lguest()
    {
        // Any node that opens read-write stands in for the device here; nothing is written to it.
        Assert.That(LguestHypervisor.TryOpen(out LguestHypervisor? hypervisor, out _, "/dev/null"), Is.True);
        using (hypervisor)
            Assert.That(hypervisor!.Name, Is.EqualTo("lguest"));
    }

    [Test]
    public void The_container_resolves_the_backend_as_the_hypervisor_and_says_why_not_when_absent()
    {
        using ServiceProvider provider = new ServiceCollection().AddDevLguest("/nonexistent/lguest").BuildServiceProvider();
        Assert.That(() => provider.GetRequiredService<IHypervisor>(),
            Throws.TypeOf<HypervisorException>().With.Message.Contains("/nonexistent/lguest"));
    }

    [Test]
    public void The_container_hands_out_one_backend_for_both_service_types()
    {
        using ServiceProvider provider = new ServiceCollection().AddDevLguest("/dev/null").BuildServiceProvider();
        Assert.That(provider.GetRequiredService<IHypervisor>(), Is.SameAs(provider.GetRequiredService<LguestHypervisor>()));
    }
}
