/*
 * rights.h - device rights (MeshCentral's MESHRIGHT bits, spec
 * sessions.md §9.1, docs/user-api.md §4.1): what a user may do on the
 * devices of a group. meshd stores and checks them; the tunnel request
 * carries them to the agent, which checks the session ones again.
 */
#ifndef MESH_PROTO_RIGHTS_H
#define MESH_PROTO_RIGHTS_H

#define MESH_RIGHT_EDIT_GROUP 0x1u
#define MESH_RIGHT_MANAGE_USERS 0x2u
#define MESH_RIGHT_MANAGE_DEVICES 0x4u
#define MESH_RIGHT_REMOTECONTROL 0x8u /* terminal, files, desktop input */
#define MESH_RIGHT_VIEWONLY 0x100u    /* desktop without input */
#define MESH_RIGHT_NOTERMINAL 0x200u
#define MESH_RIGHT_NOFILES 0x400u
/* Desktop with the mouse and plain typing only (no modifiers, no Fn). */
#define MESH_RIGHT_LIMITEDINPUT 0x1000u
#define MESH_RIGHT_UNINSTALL 0x8000u
#define MESH_RIGHT_NODESKTOP 0x10000u
#define MESH_RIGHT_DEVICE_DETAILS 0x100000u
/* Every bit: full rights, which also skip every NO* and view-only bit. */
#define MESH_RIGHT_ADMIN 0xFFFFFFFFu

#endif
