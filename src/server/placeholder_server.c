/* placeholder until the layer has sources */ typedef int mesh_placeholder_server;
