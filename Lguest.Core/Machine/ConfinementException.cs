namespace Lguest.Machine;

/// <summary>The launcher could not confine itself as asked: a chroot, chdir or change of identity failed.</summary>
public sealed class ConfinementException : LguestException
{
    internal ConfinementException(string message) : base(message) { }
}
