using Lguest.Hypervisor;

namespace Lguest.Virtio;

// Pausing the machine: the device's workers finish what they hold and stop (IVirtioDevice.Pause), the activation
// and the driver's view of the device stay as they are. Called while every vCPU is parked, so no register access
// (and no Activate or Reset from the driver) comes in between.
public sealed partial class VirtioPciTransport : IPausable
{
    /// <summary>Pauses the device (see <see cref="IVirtioDevice.Pause"/>); nothing after <see cref="Dispose"/>.</summary>
    public void Pause()
    {
        // Not under _lock: the workers being joined may report to this transport, which takes it.
        if (Volatile.Read(ref _disposed))
            return;
        _device.Pause();
    }

    /// <summary>
    /// Resumes the device's workers, unless it waits in DEVICE_NEEDS_RESET (a worker found a bad driver or failed
    /// before the pause: it stays stopped until the driver resets it). A device that cannot resume shows
    /// DEVICE_NEEDS_RESET as if its activation had failed.
    /// </summary>
    public void Resume()
    {
        lock (_lock)
        {
            if (_disposed || _broken)
                return;
            try
            {
                _device.Resume();
            }
            catch (BadDriverException e)
            {
                try
                {
                    MarkBroken(e, onVcpu: true);
                }
                catch (BadDriverException)
                {
                    // Strict mode throws it again for a vCPU to end the run; here Fatal has already ended it.
                }
            }
#pragma warning disable CA1031 // a device's bug costs that device only, as a failed activation does
            catch (Exception e)
#pragma warning restore CA1031
            {
                MarkFailed($"resume failed: {e.Message}", e, onVcpu: true);
            }
        }
    }
}
