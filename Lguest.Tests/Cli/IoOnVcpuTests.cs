using Lguest.Cli;
using Lguest.Devices;
using Microsoft.Extensions.DependencyInjection;

namespace Lguest.Tests.Cli;

/// <summary><c>--io-on-vcpu</c> reaches every device that can serve its notifications on the vCPU.</summary>
public class IoOnVcpuTests
{
    [TestCase("on", true)]
    [TestCase("off", false)]
    public void Vsock_serves_its_transmit_queue_on_the_vcpu_as_the_option_says(string option, bool expected)
    {
        Assert.That(RunArguments.TryParse([$"--io-on-vcpu={option}", "--vsock=/run/v.sock", "64", "k"], out RunArguments arguments, out string? error),
            Is.True, error);
        var services = new ServiceCollection();
        DeviceOption vsock = arguments.Devices.Single(d => d.Kind == DeviceKind.Vsock);

        RunCommand.AddDevice(services, vsock, arguments);

        using ServiceProvider provider = services.BuildServiceProvider();
        Assert.That(provider.GetRequiredService<VirtioVsockOptions>().ServeOnVcpu, Is.EqualTo(expected));
    }
}
