using Lguest.Tests.Support;
using Lguest.Virtio;
using static Lguest.Virtio.VirtioPciCommonConfig;

namespace Lguest.Tests.Virtio;

// Register accesses run on the vCPU exit path: they must not allocate.
public class VirtioPciTransportAllocationTests
{
    [Test]
    public void Register_accesses_of_a_live_device_allocate_nothing()
    {
        var device = new FakeVirtioDevice();
        using var bed = new VirtioTestBed(device, acceptsNotifyEvents: false);
        bed.BringUp();
        IVirtioTransport transport = device.Active!.Transport;
        var region = bed.Transport.Bar.Region;
        var one = new byte[1];
        var two = new byte[2];
        ulong bar = bed.BarAddress;
        Exercise(); // warm up: first calls may JIT or fill caches

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
            Exercise();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(allocated, Is.Zero);

        void Exercise()
        {
            two[0] = 0;
            bed.Mmio.Write(bar + VirtioPciTransport.NotifyOffset, two);   // a notification through the bus
            transport.SignalUsedBuffers(0);                                 // the worker's interrupt
            bed.Mmio.Read(bar + VirtioPciTransport.IsrOffset, one);        // the driver's ISR read
            region.Read(DeviceStatus, one);
            region.Write(QueueSelect, two);
            region.Read(QueueSize, two);
            _ = bed.Transport.QueueNotifiers[0].TryConsume();
        }
    }
}
